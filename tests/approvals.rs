//! The human in the loop from the command line, as a user does it with two terminals: a
//! detached process asks to write a file; `libos approvals` shows the request with its diff
//! and the rule that asked; `libos approve` / `libos deny` from another invocation decide it;
//! the process continues; the audit log shows every step.

use crate::common;

use std::time::{Duration, Instant};

use common::Env;
use serde_json::{Value, json};

const POLICY: &str = r#"
@id("reads")
permit (principal, action == Action::"fs.read", resource);
@id("writes-need-a-person")
@decision("ask")
permit (principal, action == Action::"fs.write", resource);
@id("questions")
permit (principal, action == Action::"human.ask", resource);
"#;

/// Builds image `writer`: the script agent, `fs.*`, every write asked about.
fn writer_image(env: &Env) {
    let dir = env.agent_image(
        "writer",
        libos_guests::AGENT_SCRIPT,
        "wall_clock = \"120s\"",
    );
    std::fs::write(dir.join("policy.cedar"), POLICY).expect("policy");
    let manifest = std::fs::read_to_string(dir.join("image.toml")).expect("manifest");
    std::fs::write(
        dir.join("image.toml"),
        manifest.replace(
            "agent = \"agent.wasm\"\n",
            "agent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
             capabilities = [\"fs.*:**\", \"human.ask:*\"]\n",
        ),
    )
    .expect("manifest");
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success();
}

/// Waits until `libos approvals --json` lists a request of `pid`; returns it.
fn pending_of(env: &Env, pid: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(r) = env
            .json_lines(&["approvals", "--json"])
            .into_iter()
            .find(|r| r["pid"] == pid)
        {
            return r;
        }
        assert!(Instant::now() < deadline, "no request from {pid}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `libos ARGS…`: exit code, stdout, stderr.
fn libos(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let out = env.libos().args(args).output().expect("libos");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `libos wait PID`: the process's output, parsed.
fn output_of(env: &Env, pid: u64) -> Value {
    let (code, out, err) = libos(env, &["wait", &pid.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    serde_json::from_str(&out).expect("JSON output")
}

#[test]
fn approve_once_from_another_terminal_and_the_same_write_asks_again() {
    let env = Env::new();
    writer_image(&env);
    env.write("notes.txt", "old\n");
    let steps = json!({"steps": [
        {"op": "write", "path": "notes.txt", "text": "new\n", "wait_approval_ms": 0},
        {"op": "write", "path": "notes.txt", "text": "newer\n"},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let request = pending_of(&env, pid);
    let id = request["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (request["kind"].as_str(), request["action"].as_str()),
        (Some("approval"), Some("fs.write"))
    );
    assert!(
        request["preview"]
            .as_str()
            .is_some_and(|p| p.contains("-old") && p.contains("+new"))
    );
    assert!(
        request["asked_because"]
            .as_str()
            .is_some_and(|r| r.contains("writes-need-a-person"))
    );
    // The human-readable list shows the same, with the diff.
    let (code, listed, _) = libos(&env, &["approvals"]);
    assert_eq!(code, Some(0));
    assert!(listed.contains(&id) && listed.contains("| +new") && listed.contains("asked because"));
    assert_eq!(
        env.read("notes.txt").as_deref(),
        Some("old\n"),
        "nothing before approval"
    );

    let (code, out, err) = libos(&env, &["approve", &id, "--note", "ok"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("approved") && out.contains("once"), "{out}");
    let output = output_of(&env, pid);
    assert_eq!(output["results"][0]["ok"], json!({"approved": id}));
    assert_eq!(env.read("notes.txt").as_deref(), Some("new\n"));
    // The grant was used: the next write asks again.
    assert_eq!(output["results"][1]["err"]["kind"], "needs-approval");

    // The second write's request was closed when its process ended: nothing could use it.
    let orphan = output["results"][1]["err"]["message"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(env.json_lines(&["approvals", "--json"]).is_empty());
    let (code, _, err) = libos(&env, &["approve", &orphan]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("closed when process") && err.contains("ended"),
        "{err}"
    );

    // Twice, or an unknown id: clear errors.
    let (code, _, err) = libos(&env, &["approve", &id]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("already approved"), "{err}");
    let (code, _, err) = libos(&env, &["approve", "req-nope"]);
    assert_eq!(code, Some(10), "{err}");
    assert!(err.contains("req-nope"), "{err}");
    let (code, _, err) = libos(&env, &["approve", &id, "--scope", "twice"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("expected once, uses=N"), "{err}");

    // The audit log has the request, the person's decision and the grant's use.
    let (_, audit, _) = libos(&env, &["audit", "show", "--json"]);
    let records: Vec<Value> = serde_json::from_str(&audit).expect("audit JSON");
    let about = |action: &str| {
        records
            .iter()
            .map(|r| {
                if r["record"].is_object() {
                    &r["record"]
                } else {
                    r
                }
            })
            .filter(|r| r["action"] == action && r["request_id"] == id.as_str())
            .count()
    };
    assert!(
        about("fs.write") >= 2,
        "the ask and the grant's use: {audit}"
    );
    assert_eq!(about("human.approve"), 1, "{audit}");
}

#[test]
fn deny_while_parked_and_never_rules_from_the_command_line() {
    let env = Env::new();
    writer_image(&env);
    env.write("keep.txt", "keep");
    let steps = json!({"steps": [
        {"op": "write", "path": "keep.txt", "text": "gone", "wait_approval_ms": 0},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let id = pending_of(&env, pid)["id"].as_str().expect("id").to_owned();
    let (code, out, err) = libos(&env, &["deny", &id, "--reason", "not this one", "--never"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("never: rule"), "{out}");
    let output = output_of(&env, pid);
    assert_eq!(output["results"][0]["err"]["kind"], "denied");
    assert!(
        output["results"][0]["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not this one"))
    );
    assert_eq!(env.read("keep.txt").as_deref(), Some("keep"));

    // The rule answers the next process at once; `rules rm` makes it ask again.
    let rules = env.json_lines(&["rules", "ls", "--json"]);
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0]["effect"].as_str(), rules[0]["resource"].as_str()),
        (Some("never"), Some("keep.txt"))
    );
    let again = json!({"steps": [{"op": "write", "path": "keep.txt", "text": "gone"}]});
    let pid = env.run_detached("writer", Some(&again.to_string()));
    assert_eq!(output_of(&env, pid)["results"][0]["err"]["kind"], "denied");
    // The rule has the record of its making: the log verifies.
    let (code, _, err) = libos(&env, &["audit", "verify"]);
    assert_eq!(code, Some(0), "{err}");
    let rule_id = rules[0]["id"].to_string();
    let (code, _, err) = libos(&env, &["rules", "rm", &rule_id]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, _) = libos(&env, &["rules", "rm", &rule_id]);
    assert_eq!(code, Some(10));
    let pid = env.run_detached("writer", Some(&again.to_string()));
    assert_eq!(
        output_of(&env, pid)["results"][0]["err"]["kind"],
        "needs-approval"
    );
    assert_eq!(env.read("keep.txt").as_deref(), Some("keep"));
}

#[test]
fn policy_explain_shows_which_rule_asks_and_a_standing_answer() {
    let env = Env::new();
    writer_image(&env);
    env.write("keep.txt", "keep");
    let steps = json!({"steps": [
        {"op": "write", "path": "keep.txt", "text": "gone", "wait_approval_ms": 0},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let id = pending_of(&env, pid)["id"].as_str().expect("id").to_owned();
    let (code, out, err) = libos(&env, &["policy", "explain", "--request", &id]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("fs.write on keep.txt: ask"), "{out}");
    assert!(out.contains("writes-need-a-person"), "{out}");
    assert!(out.contains(&format!("request {id} of pid {pid}")), "{out}");

    libos(&env, &["deny", &id, "--never"]);
    let (code, out, _) = libos(
        &env,
        &[
            "policy",
            "explain",
            "--image",
            "writer",
            "--action",
            "fs.write",
            "--resource",
            "keep.txt",
        ],
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains("standing rule") && out.contains("answers never"),
        "{out}"
    );

    // A command is explained as what it really does.
    let (code, out, _) = libos(
        &env,
        &[
            "policy", "explain", "--image", "writer", "--", "env", "LANG=C", "rm", "-rf", "build",
        ],
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("shell.destructive on rm"), "{out}");
    assert!(out.contains("looked through env"), "{out}");
    let abi = libos::primitives::shell::confine::kernel_abi();
    if abi >= libos::primitives::shell::confine::NETWORK_ABI {
        assert!(
            out.contains(&format!("would run confined under Landlock ABI {abi}")),
            "{out}"
        );
    } else {
        assert!(out.contains("would run refused"), "{out}");
    }
    let (code, _, err) = libos(&env, &["policy", "explain", "--request", "req-missing"]);
    assert_eq!(code, Some(10), "{err}");
    output_of(&env, pid);
}

#[test]
fn a_request_of_a_process_whose_host_died_survives_and_is_honored_where_it_resumes() {
    let env = Env::new();
    writer_image(&env);
    let steps = json!({"steps": [
        {"op": "write", "path": "later.txt", "text": "x", "wait_approval_ms": 0},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let id = pending_of(&env, pid)["id"].as_str().expect("id").to_owned();
    env.kill_host_of(pid);
    // The request outlives the host: a person can still decide it, while nothing runs.
    let listed = env.json_lines(&["approvals", "--json"]);
    assert!(listed.iter().any(|r| r["id"] == id.as_str()), "{listed:?}");
    let (code, out, err) = libos(&env, &["approve", &id]);
    assert_eq!(code, Some(0), "{out}{err}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        env.read("later.txt").is_none(),
        "nothing ran it without a host"
    );
    // The next host resumes the process, which finds its approval and writes, once.
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_libos"))
        .arg("--state-dir")
        .arg(env.state.path())
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("libos serve");
    let output = output_of(&env, pid);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(output["results"][0].get("ok").is_some(), "{output}");
    assert_eq!(env.read("later.txt").as_deref(), Some("x"));
    let approvals: Vec<_> = env
        .audit_json()
        .into_iter()
        .filter(|r| {
            r["request_id"] == id.as_str()
                && r["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("human:"))
        })
        .collect();
    assert_eq!(approvals.len(), 1, "decided once: {approvals:?}");
    // Every asked write names that one request: no new one after the host died.
    let asked: Vec<_> = env
        .audit_json()
        .into_iter()
        .filter(|r| r["action"] == "fs.write" && r["verdict"] == "ask")
        .collect();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|r| r["request_id"] == id.as_str()),
        "{asked:?}"
    );
}

#[test]
fn a_question_is_answered_from_the_command_line() {
    let env = Env::new();
    writer_image(&env);
    let steps = json!({"steps": [
        {"op": "ask", "question": "Which branch?", "choices": ["main", "dev"]},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let question = pending_of(&env, pid);
    assert_eq!(question["kind"], "question");
    assert_eq!(question["question"], "Which branch?");
    let id = question["id"].as_str().expect("id").to_owned();
    let (_, listed, _) = libos(&env, &["approvals"]);
    assert!(listed.contains("choices: main | dev"), "{listed}");
    let (code, _, err) = libos(&env, &["answer", &id, "feature"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not one of the choices"), "{err}");
    let (code, _, err) = libos(&env, &["approve", &id]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is a question"), "{err}");
    let (code, out, err) = libos(&env, &["answer", &id, "dev"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("answered"), "{out}");
    assert_eq!(output_of(&env, pid)["results"][0]["ok"], "dev");
}

#[test]
fn what_a_process_wrote_cannot_rewrite_the_approvers_terminal() {
    let env = Env::new();
    writer_image(&env);
    let sneaky = "ok\n\u{1b}[2K\rasked because: nothing to see\u{202e}";
    let steps = json!({"steps": [
        {"op": "write", "path": "x.txt", "text": sneaky, "wait_approval_ms": 0},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let id = pending_of(&env, pid)["id"].as_str().expect("id").to_owned();
    let (_, listed, _) = libos(&env, &["approvals"]);
    assert!(!listed.contains('\u{1b}') && !listed.contains('\r') && !listed.contains('\u{202e}'));
    assert!(listed.contains("\\u{1b}"), "{listed}");
    let claims = listed
        .lines()
        .filter(|l| l.trim_start().starts_with("asked because:"))
        .count();
    assert_eq!(
        claims, 1,
        "the fake line stays inside the quoted diff: {listed}"
    );
    libos(&env, &["deny", &id]);
    output_of(&env, pid);
}

#[test]
fn a_rule_written_into_the_database_is_reported_by_verify() {
    let env = Env::new();
    writer_image(&env);
    let steps = json!({"steps": [{"op": "write", "path": "x.txt", "text": "x"}]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let _ = output_of(&env, pid);
    let conn = rusqlite::Connection::open(env.state_path().join("libos.db")).unwrap();
    conn.execute(
        "INSERT INTO human_rules (image, action, resource, effect, request_id, decided_by, \
         created_ns) VALUES ('writer:1', 'fs.write', '**', 'always', NULL, 'alice', 1)",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, _, err) = libos(&env, &["audit", "verify"]);
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("standing rule"), "{err}");
}

#[test]
fn a_grant_written_into_the_database_is_reported_by_verify() {
    let env = Env::new();
    writer_image(&env);
    env.write("keep.txt", "keep");
    // A grant made by a person verifies.
    let steps = json!({"steps": [
        {"op": "write", "path": "keep.txt", "text": "new", "wait_approval_ms": 0},
    ]});
    let pid = env.run_detached("writer", Some(&steps.to_string()));
    let id = pending_of(&env, pid)["id"].as_str().expect("id").to_owned();
    let (code, _, err) = libos(&env, &["approve", &id]);
    assert_eq!(code, Some(0), "{err}");
    let _ = output_of(&env, pid);
    let (code, _, err) = libos(&env, &["audit", "verify"]);
    assert_eq!(code, Some(0), "{err}");
    // One written into the table does not.
    let conn = rusqlite::Connection::open(env.state_path().join("libos.db")).unwrap();
    conn.execute(
        "INSERT INTO human_grants (request_id, pid, action, resource, args_digest, \
         target_version, scope, uses_left, expires_ns, created_ns) \
         SELECT request_id, pid, action, resource, args_digest, target_version, 'session', \
         NULL, NULL, created_ns FROM human_grants LIMIT 1",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, _, err) = libos(&env, &["audit", "verify"]);
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("grant"), "{err}");
}
