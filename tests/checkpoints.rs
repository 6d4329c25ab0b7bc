//! Checkpoints and forks from the command line: a fork replays what came before the
//! checkpoint (nothing of it happens again) and lives on from there; it holds no capability
//! the process lost since; the operator's commands are audited.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Env;

fn image(env: &Env) {
    env.build_image(
        "forkable",
        libos_guests::AGENT_SCRIPT,
        &["fs.*", "events.*", "memory.*"],
        "wall_clock = \"120s\"",
    );
}

fn state_of(env: &Env, pid: u64) -> Value {
    env.ps_json()
        .into_iter()
        .find(|p| p["pid"] == pid)
        .map(|p| p["state"].clone())
        .unwrap_or_default()
}

/// `libos checkpoint create PID --name NAME`, which must succeed.
fn checkpoint(env: &Env, pid: u64, name: &str) {
    let out = env
        .libos()
        .args(["checkpoint", "create", &pid.to_string(), "--name", name])
        .output()
        .expect("checkpoint");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn wait_blocked(env: &Env, pid: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state_of(env, pid).to_string().contains("blocked") {
        assert!(
            Instant::now() < deadline,
            "{pid} never blocked: {}",
            state_of(env, pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn output_of(env: &Env, pid: u64) -> Value {
    let out = env
        .libos()
        .args(["wait", &pid.to_string()])
        .output()
        .expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

pub(crate) fn allowed_writes(env: &Env, path: &str) -> usize {
    env.audit_json()
        .iter()
        .filter(|r| r["action"] == "fs.write" && r["resource"] == path && r["verdict"] == "allow")
        .count()
}

#[test]
fn a_fork_continues_from_its_checkpoint_and_repeats_nothing_before_it() {
    fork_continues(false);
}

/// The same from a checkpoint taken after a snapshot: the fork restores the snapshot (the
/// entries before it are gone) and replays what came after it.
#[test]
fn a_fork_of_a_checkpoint_after_a_snapshot_restores_it() {
    fork_continues(true);
}

fn fork_continues(snapshot: bool) {
    let env = Env::new();
    image(&env);
    let mut steps = vec![
        json!({ "op": "write", "path": "before.txt", "text": "once" }),
        json!({ "op": "put", "kind": "k", "key": "a", "value": 1 }),
        json!({ "op": "now" }),
    ];
    if snapshot {
        steps.push(json!({ "op": "snapshot" }));
    }
    let waits = steps.len();
    steps.extend([
        json!({ "op": "wait_event", "topic": "go" }),
        json!({ "op": "self" }),
        json!({ "op": "write", "path": "after.txt", "text": "each" }),
    ]);
    let input = json!({ "steps": steps }).to_string();
    let pid = env.run_detached("forkable", Some(&input));
    wait_blocked(&env, pid);

    checkpoint(&env, pid, "waiting");
    let listed = env.json_lines(&["checkpoint", "ls", "--json"]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["pid"], pid);
    assert_eq!(listed[0]["name"], "waiting");
    // A name is unique.
    env.libos()
        .args([
            "checkpoint",
            "create",
            &pid.to_string(),
            "--name",
            "waiting",
        ])
        .assert()
        .failure();

    let out = env
        .libos()
        .args(["fork", "waiting"])
        .output()
        .expect("fork");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fork: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    assert_ne!(fork, pid);
    // The fork replays to the same wait, having done nothing again.
    wait_blocked(&env, fork);
    assert_eq!(allowed_writes(&env, "before.txt"), 1);

    env.libos().args(["emit", "go", "1"]).assert().success();
    let original = output_of(&env, pid);
    let forked = output_of(&env, fork);
    let (o, f) = (&original["results"], &forked["results"]);
    // Identical up to the checkpoint (the clock reading included: it is the journal's).
    for i in 0..=waits {
        assert_eq!(o[i], f[i], "step {i}: {original} / {forked}");
    }
    // After it, each is itself: its own pid, its own write.
    assert_eq!(f[waits + 1]["ok"]["pid"], fork);
    assert_eq!(
        allowed_writes(&env, "before.txt"),
        1,
        "before the checkpoint: once"
    );
    assert_eq!(
        allowed_writes(&env, "after.txt"),
        2,
        "after it: once per process"
    );
    // The operator's commands are on the record.
    let records = env.audit_json();
    for (action, resource) in [
        ("checkpoint.create", format!("process/{pid}")),
        ("process.fork", format!("checkpoint/{}", listed[0]["id"])),
    ] {
        assert!(
            records.iter().any(|r| r["action"] == action
                && r["resource"] == resource.as_str()
                && r["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("human:"))),
            "no record of {action} {resource}"
        );
    }
}

#[test]
fn a_fork_holds_no_capability_its_process_lost_and_bad_references_are_named() {
    let env = Env::new();
    image(&env);
    let input = json!({ "steps": [
        { "op": "wait_event", "topic": "go" },
        { "op": "write", "path": "x.txt", "text": "x" },
    ]})
    .to_string();
    let pid = env.run_detached("forkable", Some(&input));
    wait_blocked(&env, pid);
    env.libos()
        .args(["checkpoint", "create", &pid.to_string()])
        .assert()
        .success();
    // The process loses fs.* (as an exec into a narrower image would record it).
    let held: Vec<String> = env
        .ps_json()
        .into_iter()
        .find(|p| p["pid"] == pid)
        .and_then(|p| serde_json::from_value(p["capabilities"].clone()).ok())
        .unwrap_or_default();
    let kept: Vec<&String> = held.iter().filter(|c| !c.starts_with("fs.")).collect();
    assert_eq!(kept.len() + 1, held.len(), "{held:?}");
    let db = rusqlite::Connection::open(env.state.path().join("libos.db")).expect("db");
    db.execute(
        "UPDATE processes SET capabilities = ?2 WHERE pid = ?1",
        rusqlite::params![pid as i64, serde_json::to_string(&kept).expect("json")],
    )
    .expect("narrow");
    let out = env.libos().args(["fork", "1"]).output().expect("fork");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fork: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    let caps = env
        .ps_json()
        .into_iter()
        .find(|p| p["pid"] == fork)
        .map(|p| p["capabilities"].clone())
        .unwrap_or_default();
    assert_eq!(caps, json!(kept));
    wait_blocked(&env, fork);
    env.libos().args(["emit", "go", "1"]).assert().success();
    let forked = output_of(&env, fork);
    assert_eq!(forked["results"][1]["err"]["kind"], "denied", "{forked}");
    env.libos()
        .args(["kill", &pid.to_string()])
        .assert()
        .success();

    for bad in ["99", "no-such-name", "\u{1b}[2J"] {
        let out = env.libos().args(["fork", bad]).output().expect("fork");
        assert_eq!(out.status.code(), Some(10), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no checkpoint") && !stderr.contains('\u{1b}'),
            "{stderr}"
        );
    }
    let out = env
        .libos()
        .args(["checkpoint", "create", "4242"])
        .output()
        .expect("create");
    assert_eq!(out.status.code(), Some(10));
}

#[test]
fn a_restored_process_goes_back_and_redoes_only_what_came_after() {
    let env = Env::new();
    image(&env);
    let input = json!({ "steps": [
        { "op": "write", "path": "a.txt", "text": "a" },
        { "op": "wait_event", "topic": "go" },
        { "op": "write", "path": "b.txt", "text": "b" },
        { "op": "wait_event", "topic": "go2" },
        { "op": "self" },
    ]})
    .to_string();
    let pid = env.run_detached("forkable", Some(&input));
    wait_blocked(&env, pid);
    env.libos()
        .args([
            "checkpoint",
            "create",
            &pid.to_string(),
            "--name",
            "first-wait",
        ])
        .assert()
        .success();
    env.libos().args(["emit", "go", "1"]).assert().success();
    let deadline = Instant::now() + Duration::from_secs(30);
    while allowed_writes(&env, "b.txt") < 1 {
        assert!(Instant::now() < deadline, "b.txt never written");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_blocked(&env, pid);

    let out = env
        .libos()
        .args(["checkpoint", "restore", "first-wait"])
        .output()
        .expect("restore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("went back to checkpoint"), "{said}");
    // Back at the first wait, which finds the `go` already emitted: it writes b.txt again
    // (after the checkpoint), never a.txt (before it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while allowed_writes(&env, "b.txt") < 2 {
        assert!(
            Instant::now() < deadline,
            "the restored process never went on"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    env.libos().args(["emit", "go2", "1"]).assert().success();
    let output = output_of(&env, pid);
    assert_eq!(output["results"][4]["ok"]["pid"], pid, "{output}");
    assert_eq!(allowed_writes(&env, "a.txt"), 1);
    assert_eq!(allowed_writes(&env, "b.txt"), 2);
    assert!(
        env.audit_json()
            .iter()
            .any(|r| r["action"] == "checkpoint.restore"
                && r["resource"] == format!("process/{pid}").as_str())
    );
    // An ended process is not restored; a fork is offered instead.
    let out = env
        .libos()
        .args(["checkpoint", "restore", "first-wait"])
        .output()
        .expect("restore");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("libos fork"));
}

#[test]
fn forks_and_committed_images_start_with_the_checkpoints_objects() {
    let env = Env::new();
    image(&env);
    let input = json!({ "steps": [
        { "op": "put", "kind": "k", "key": "a", "value": 1 },
        { "op": "wait_event", "topic": "go" },
        { "op": "get", "kind": "k", "key": "a" },
        { "op": "put", "kind": "k", "key": "a", "value": 2 },
    ]})
    .to_string();
    let pid = env.run_detached("forkable", Some(&input));
    wait_blocked(&env, pid);
    env.libos()
        .args(["checkpoint", "create", &pid.to_string(), "--name", "m"])
        .assert()
        .success();
    let out = env.libos().args(["fork", "m"]).output().expect("fork");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fork: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    wait_blocked(&env, fork);
    env.libos().args(["emit", "go", "1"]).assert().success();
    for p in [pid, fork] {
        let results = output_of(&env, p)["results"].clone();
        // Each read its own copy of the object as the checkpoint left it, then changed it.
        assert_eq!(results[2]["ok"]["value"], json!(1), "{p}: {results}");
        assert_eq!(results[3]["ok"], json!(2), "{p}: {results}");
    }

    // An image whose processes start with those objects.
    let out = env
        .libos()
        .args(["image", "commit", "m", "--name", "seeded"])
        .output()
        .expect("commit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 objects"));
    let reader = json!({ "steps": [
        { "op": "get", "kind": "k", "key": "a" },
        { "op": "put", "kind": "k", "key": "a", "value": 3 },
    ]})
    .to_string();
    for _ in 0..2 {
        let started = env.run_detached("seeded", Some(&reader));
        let results = output_of(&env, started)["results"].clone();
        assert_eq!(results[0]["ok"]["value"], json!(1), "{results}");
        assert_eq!(results[0]["ok"]["version"], json!(1), "{results}");
    }
    assert!(
        env.audit_json()
            .iter()
            .any(|r| r["action"] == "image.commit" && r["resource"] == "checkpoint/1"),
        "the commit is on the record"
    );
    // A commit never replaces an image (processes and checkpoints run images by digest).
    let digest = |env: &Env| -> Value {
        let out = env
            .libos()
            .args(["image", "inspect", "forkable", "--json"])
            .output()
            .expect("inspect");
        serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["digest"].clone()
    };
    let before = digest(&env);
    assert!(before.is_string(), "{before}");
    env.libos()
        .args(["image", "commit", "m", "--name", "forkable"])
        .assert()
        .failure();
    assert_eq!(digest(&env), before, "the refused commit changed nothing");

    // Checkpoints are kept until deleted.
    env.libos()
        .args(["checkpoint", "rm", "m"])
        .assert()
        .success();
    assert!(env.json_lines(&["checkpoint", "ls", "--json"]).is_empty());
    env.libos()
        .args(["checkpoint", "rm", "m"])
        .assert()
        .failure();
}

/// What the calls a restore took back had spent stays spent, even on a host that resumes
/// the process after its own died.
#[test]
fn a_restore_then_a_crash_gives_back_no_budget() {
    let env = Env::new();
    env.build_image(
        "thrifty",
        libos_guests::AGENT_SCRIPT,
        &["fs.*", "events.*"],
        "wall_clock = \"120s\"\n\n[budget]\nbytes_written = \"25B\"",
    );
    let input = json!({ "steps": [
        { "op": "write", "path": "a", "text": "01234" },
        { "op": "wait_event", "topic": "e1" },
        { "op": "write", "path": "b", "text": "0123456789" },
        { "op": "wait_event", "topic": "e2" },
        { "op": "write", "path": "c", "text": "01234" },
    ]})
    .to_string();
    let pid = env.run_detached("thrifty", Some(&input));
    wait_blocked(&env, pid);
    checkpoint(&env, pid, "after-a");
    env.libos().args(["emit", "e1", "1"]).assert().success();
    let deadline = Instant::now() + Duration::from_secs(60);
    while allowed_writes(&env, "b") < 1 {
        assert!(Instant::now() < deadline, "b never written");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back to after `a`: `b` is written again (the event is still there), 25 bytes spent.
    env.libos()
        .args(["checkpoint", "restore", "after-a"])
        .assert()
        .success();
    while allowed_writes(&env, "b") < 2 {
        assert!(Instant::now() < deadline, "b never written again");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_blocked(&env, pid);
    env.kill_host_of(pid);
    let mut host = crate::crash::serve(&env);
    env.libos().args(["emit", "e2", "2"]).assert().success();
    let output = output_of(&env, pid);
    let _ = host.kill();
    let _ = host.wait();
    assert_eq!(
        output["results"][4]["err"]["kind"], "limit-exceeded",
        "{output}"
    );
    assert!(env.read("c").is_none());
}
