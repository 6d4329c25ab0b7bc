//! `libos emit` and `libos events` as a user runs them: an agent waiting in a background host
//! is woken by an event emitted from another terminal.

use crate::common;

use std::time::{Duration, Instant};

use common::Env;

/// Builds the image `waiter` (parks on one topic) allowed to wait on topic `go`.
fn waiter_image(env: &Env) {
    let dir = env.state.path().join("waiter-image");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_WAITER, dir.join("agent.wasm")).expect("copy");
    std::fs::write(
        dir.join("image.toml"),
        "name = \"waiter\"\nversion = \"0.1.0\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"events.wait:go\"]\n",
    )
    .expect("manifest");
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success();
}

fn events_json(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["events", "--json"];
    all.extend_from_slice(args);
    env.json_lines(&all)
}

#[test]
fn an_event_emitted_from_another_terminal_wakes_a_detached_waiter() {
    let env = Env::new();
    waiter_image(&env);
    let pid_n = env.run_detached("waiter", Some(r#"{"topic":"go"}"#));
    let pid = pid_n.to_string();

    // Wait until it is parked on the topic, then emit.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let parked = env
            .ps_json()
            .iter()
            .any(|p| p["pid"] == pid_n && p["state"]["blocked"].is_object());
        if parked {
            break;
        }
        assert!(Instant::now() < deadline, "the waiter never parked");
        std::thread::sleep(Duration::from_millis(50));
    }
    let emitted = env
        .libos()
        .args(["emit", "go", r#"{"build": 7}"#])
        .output()
        .expect("emit");
    assert!(
        emitted.status.success(),
        "{}",
        String::from_utf8_lossy(&emitted.stderr)
    );
    let id: u64 = String::from_utf8_lossy(&emitted.stdout)
        .trim()
        .parse()
        .expect("emit prints the event id");

    let waited = env
        .libos()
        .args(["wait", &pid])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("wait");
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&waited.stdout).expect("the waiter's output");
    assert_eq!(result["event"]["payload"]["build"], 7, "{result}");
    assert_eq!(result["event"]["source"], 0, "{result}");

    let go = events_json(&env, &["--topic", "go"]);
    assert_eq!(go.len(), 1);
    assert_eq!(go[0]["id"], id);
    // The exit notice of the waiter is an event too.
    let all = events_json(&env, &[]);
    assert!(all.iter().any(|e| e["topic"] == "process.exit"), "{all:?}");
    assert!(events_json(&env, &["--after", &(id + 100).to_string()]).is_empty());
}

#[test]
fn emit_refuses_bad_topics_and_payloads_and_stores_nothing() {
    let env = Env::new();
    for (args, code, says) in [
        (vec!["emit", "no spaces"], 1, "topic"),
        (vec!["emit", "go", "not json"], 1, "not JSON"),
    ] {
        let out = env.libos().args(&args).output().expect("emit");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let huge = format!("\"{}\"", "x".repeat(70 * 1024));
    let out = env
        .libos()
        .args(["emit", "go", &huge])
        .output()
        .expect("emit");
    assert_eq!(out.status.code(), Some(6));
    assert!(events_json(&env, &[]).is_empty());
}
