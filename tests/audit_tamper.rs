//! The audit log records every decision, verifies, and detects any tampering.

use crate::common;

use common::Env;
use libos_guests as guests;

fn make_history(env: &Env) {
    env.write("a.txt", "a");
    let work = env.work.path().to_str().unwrap();
    for (caps, input) in [
        (vec!["fs.read"], r#"{"path":"a.txt"}"#),
        (vec![], r#"{"path":"a.txt"}"#),
        (vec!["fs.read:nothing/**"], r#"{"path":"a.txt"}"#),
        (vec!["fs.read"], r#"{"path":"../escape.txt"}"#),
    ] {
        let mut cmd = env.libos();
        cmd.args([
            "tool",
            "call",
            guests::READ_FILE,
            "--workdir",
            work,
            "--input",
            input,
        ]);
        for c in caps {
            cmd.args(["--allow", c]);
        }
        let _ = cmd.output().unwrap();
    }
}

fn verify(env: &Env) -> (i32, String, String) {
    let out = env.libos().args(["audit", "verify"]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sql(env: &Env, statement: &str) {
    let db = rusqlite::Connection::open(env.state.path().join("libos.db")).unwrap();
    db.execute_batch(statement).unwrap();
}

#[test]
fn every_decision_is_recorded_and_the_chain_verifies() {
    let env = Env::new();
    make_history(&env);
    let out = env
        .libos()
        .args(["audit", "show", "--json"])
        .output()
        .unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "fs.read")
        .map(|r| r["verdict"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(verdicts, ["allow", "deny", "deny", "deny"], "{records:#?}");
    assert!(records.iter().all(|r| r["subject"] == "tool:read_file"));
    assert!(records.iter().any(|r| r["args_digest"].is_string()));
    let (code, stdout, _) = verify(&env);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(&format!("ok: {} records, head ", records.len())),
        "{stdout}"
    );
    let text = env.libos().args(["audit", "show"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("no capability grants fs.read on a.txt")
    );
}

#[test]
fn edits_deletions_insertions_and_reordering_are_detected() {
    let cases: &[(&str, &str)] = &[
        ("edit", "UPDATE audit SET verdict = 'allow' WHERE seq = 2"),
        ("delete middle", "DELETE FROM audit WHERE seq = 2"),
        ("delete last", "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)"),
        (
            "insert",
            "INSERT INTO audit (seq, time_ns, subject, action, resource, verdict, reason, policy_ids, request_id, args_digest, prev_hash, hash)
             SELECT 1000, time_ns, subject, action, resource, 'allow', reason, policy_ids, request_id, args_digest, hash, hash FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",
        ),
        (
            "reorder",
            "UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = -1;",
        ),
    ];
    for (name, statement) in cases {
        let env = Env::new();
        make_history(&env);
        assert_eq!(verify(&env).0, 0, "{name}: clean history verifies");
        sql(&env, statement);
        let (code, _, stderr) = verify(&env);
        assert_eq!(code, 9, "{name}: {stderr}");
        assert!(
            stderr.contains("record"),
            "{name}: names the record: {stderr}"
        );
    }
}

#[test]
fn a_log_that_cannot_be_read_is_not_reported_as_tampered() {
    // A database path that cannot be opened: not checked, with an exit code of its own.
    let env = Env::new();
    std::fs::create_dir_all(env.state_path().join("libos.db")).unwrap();
    let out = env.libos().args(["audit", "verify"]).assert().code(13);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("not checked"), "{err}");

    // A file that is no database at all is damage: the tampering code.
    let env = Env::new();
    std::fs::write(env.state_path().join("libos.db"), vec![0x5au8; 8192]).unwrap();
    env.libos().args(["audit", "verify"]).assert().code(9);
}

#[test]
fn a_cut_tail_an_emptied_or_replaced_log_is_caught_by_the_head_kept_outside() {
    let cases: &[(&str, &str)] = &[
        (
            "tail cut, head row moved back",
            "DELETE FROM audit WHERE seq > 2; \
             UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit WHERE seq = 2);",
        ),
        ("emptied", "DELETE FROM audit; DELETE FROM audit_head;"),
    ];
    for (name, statement) in cases {
        let env = Env::new();
        make_history(&env);
        assert_eq!(verify(&env).0, 0, "{name}: clean history verifies");
        sql(&env, statement);
        let (code, _, stderr) = verify(&env);
        assert_eq!(code, 9, "{name}: {stderr}");
        assert!(stderr.contains("kept outside"), "{name}: {stderr}");
    }
    // The database file truncated to nothing, or removed.
    for name in ["truncated", "removed"] {
        let env = Env::new();
        make_history(&env);
        let db = env.state_path().join("libos.db");
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(env.state_path().join(format!("libos.db{suffix}")));
        }
        if name == "truncated" {
            std::fs::write(&db, b"").unwrap();
        } else {
            std::fs::remove_file(&db).unwrap();
        }
        let (code, _, stderr) = verify(&env);
        assert_eq!(code, 9, "{name}: {stderr}");
    }
    // The tail cut and the head file removed: not taken for a log that never had one.
    let env = Env::new();
    make_history(&env);
    let (_, stdout, _) = verify(&env);
    let head = stdout
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    sql(&env, cases[0].1);
    std::fs::remove_file(env.state_path().join("libos.db.head")).unwrap();
    let (code, _, stderr) = verify(&env);
    assert_eq!(code, 9, "{stderr}");
    assert!(stderr.contains("no head kept outside"), "{stderr}");
    // A head written down still catches the cut.
    env.libos()
        .args(["audit", "verify", "--head", &head])
        .assert()
        .code(9);
}

#[test]
fn a_head_written_down_must_still_be_in_the_log() {
    let env = Env::new();
    make_history(&env);
    let (code, stdout, _) = verify(&env);
    assert_eq!(code, 0);
    let head = stdout.trim().rsplit(' ').next().unwrap().to_owned();
    env.libos()
        .args(["audit", "verify", "--head", &head])
        .assert()
        .success();
    // Rewritten from the start with a forged history: the head written down is gone. (The
    // file kept outside is removed too, as someone who rewrites the state directory would.)
    make_history(&env);
    sql(&env, "DELETE FROM audit; DELETE FROM audit_head;");
    std::fs::remove_file(env.state_path().join("libos.db.head")).unwrap();
    let out = env.libos().args(["audit", "verify"]).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).starts_with("ok: 0 records"));
    let out = env
        .libos()
        .args(["audit", "verify", "--head", &head])
        .assert()
        .code(9);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("written down"), "{err}");
}

#[test]
fn a_call_whose_records_cannot_be_stored_reports_no_result() {
    let env = Env::new();
    make_history(&env);
    // A head the writer cannot extend: every later batch fails.
    sql(&env, "UPDATE audit_head SET hash = 'not hex'");
    let out = env
        .libos()
        .args(["tool", "call", guests::READ_FILE, "--allow", "fs.read"])
        .arg("--workdir")
        .arg(env.work.path())
        .args(["--input", r#"{"path":"a.txt"}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("audit log")
            && (err.contains("could not be") || err.contains("not being written")),
        "the error names the audit log: {err}"
    );
}
