//! `libos run --detach`, `pause`, `resume` and `logs` as a user runs them: the process runs
//! in a background host and every command comes from another invocation.

use crate::common;

use std::time::{Duration, Instant};

use common::Env;

/// Builds the image `ticker` (the ticking fixture: one log line per tick, forever).
fn ticker_image(env: &Env) {
    let dir = env.agent_image(
        "ticker",
        libos_guests::AGENT_TICKER,
        "wall_clock = \"120s\"",
    );
    env.libos()
        .args(["image", "build"])
        .arg(&dir)
        .assert()
        .success();
}

/// `libos logs PID --json --after AFTER`: the highest position printed (`after` if none).
fn log_position(env: &Env, pid: u64, after: u64) -> u64 {
    let (pid, after_s) = (pid.to_string(), after.to_string());
    env.json_lines(&["logs", &pid, "--json", "--after", &after_s])
        .iter()
        .filter_map(|v| v["seq"].as_u64())
        .max()
        .unwrap_or(after)
}

/// Waits until the log of `pid` grows past `after`; returns the new position.
fn log_grows(env: &Env, pid: u64, after: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = log_position(env, pid, after);
        if now > after {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the log of {pid} stopped at {after}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `libos CMD PID`: its exit code, stdout and stderr.
fn on_pid(env: &Env, cmd: &str, pid: u64) -> (Option<i32>, String, String) {
    let out = env
        .libos()
        .args([cmd, &pid.to_string()])
        .output()
        .expect(cmd);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state_of(env: &Env, pid: u64) -> serde_json::Value {
    env.ps_json()
        .into_iter()
        .find(|p| p["pid"] == pid)
        .map(|p| p["state"].clone())
        .unwrap_or_default()
}

#[test]
fn a_detached_process_is_paused_resumed_logged_and_killed_from_other_invocations() {
    let env = Env::new();
    ticker_image(&env);
    let started = Instant::now();
    let pid = env.run_detached("ticker", None);
    assert!(started.elapsed() < Duration::from_secs(60));
    // Its start was committed before its pid was handed out: another invocation sees it.
    assert!(!state_of(&env, pid).is_null(), "process {pid} is not in ps");

    // Its log fills from the background host and reads as text too.
    let moving = log_grows(&env, pid, 0);
    let (_, text, _) = on_pid(&env, "logs", pid);
    // (How far it got depends on the machine's speed, and the log keeps only its newest
    // lines: any tick line will do.)
    assert!(
        text.lines().any(|l| l.starts_with("debug  tick ")),
        "{text}"
    );

    let (code, paused, _) = on_pid(&env, "pause", pid);
    assert_eq!(code, Some(0));
    assert_eq!(paused.trim(), format!("paused {pid}"));
    assert!(
        state_of(&env, pid).get("paused").is_some(),
        "{}",
        state_of(&env, pid)
    );
    // The host applies it within a few table polls; after that the log stands still.
    std::thread::sleep(Duration::from_millis(400));
    let stopped = log_position(&env, pid, moving);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        log_position(&env, pid, stopped),
        stopped,
        "a paused process ran"
    );

    let (_, resumed, _) = on_pid(&env, "resume", pid);
    assert_eq!(resumed.trim(), format!("resumed {pid}"));
    log_grows(&env, pid, stopped);

    env.libos()
        .args(["kill", &pid.to_string()])
        .assert()
        .success();
    env.libos()
        .args(["wait", &pid.to_string()])
        .assert()
        .code(12);
    // Following the log of an ended process prints what is there and returns.
    env.libos()
        .args(["logs", "--follow", &pid.to_string()])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();

    // Each was recorded as the person who did it, on that process.
    env.libos()
        .args(["emit", "wake", "{}"])
        .env("USER", "ada")
        .assert()
        .success();
    let records = env.audit_json();
    let resource = format!("process/{pid}");
    for action in ["process.pause", "process.resume", "process.kill"] {
        assert!(
            records.iter().any(|r| r["action"] == action
                && r["resource"] == resource.as_str()
                && r["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("human:"))),
            "no record of {action}"
        );
    }
    assert!(
        records.iter().any(|r| r["action"] == "events.emit"
            && r["resource"] == "wake"
            && r["subject"] == "human:ada"),
        "no record of the emit"
    );
}

#[test]
fn control_commands_name_what_is_missing() {
    let env = Env::new();
    for cmd in ["pause", "resume", "logs", "kill"] {
        let (code, _, stderr) = on_pid(&env, cmd, 4242);
        assert_eq!(code, Some(10), "{cmd}");
        assert!(stderr.contains("no process 4242"), "{cmd}: {stderr}");
    }
    // Nothing was done, so nothing was recorded as done.
    let records = env.audit_json();
    assert!(
        !records.iter().any(|r| r["resource"] == "process/4242"),
        "{records:?}"
    );
    let out = env
        .libos()
        .args(["run", "no-such-image", "--detach", "--workdir"])
        .arg(env.work.path())
        .output()
        .expect("run --detach");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-image"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn processes_of_a_host_killed_hard_wait_for_the_next_host_and_resume_there() {
    let env = Env::new();
    ticker_image(&env);
    let pid = env.run_detached("ticker", None);
    log_grows(&env, pid, 0);
    assert_eq!(state_of(&env, pid), "running", "alive before the crash");
    // The host dies without a chance to record anything.
    let host = env.kill_host_of(pid);

    // Every other invocation says the process waits for a host; nothing marks it failed.
    let out = env.libos().args(["ps"]).output().expect("ps");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&host) && stderr.contains("wait to be resumed"),
        "{stderr}"
    );
    assert_eq!(state_of(&env, pid), "running");
    let before = log_position(&env, pid, 0);

    // The next host adopts it and resumes it from its journal: its log grows on.
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_libos"))
        .arg("--state-dir")
        .arg(env.state.path())
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("libos serve");
    log_grows(&env, pid, before);
    let adopted_by = env
        .ps_json()
        .into_iter()
        .find(|p| p["pid"] == pid)
        .and_then(|p| p["host"].as_str().map(str::to_owned))
        .unwrap_or_default();
    assert_eq!(adopted_by, format!("libos@{}", serve.id()));
    env.libos()
        .args(["kill", &pid.to_string()])
        .assert()
        .success();
    let _ = serve.kill();
    let _ = serve.wait();
}

#[test]
fn a_shell_command_ends_with_the_host_that_runs_it() {
    let env = Env::new();
    env.build_image(
        "sleeper",
        libos_guests::AGENT_SCRIPT,
        &["shell.exec:**", "shell.interpreter:**"],
        "wall_clock = \"120s\"",
    );
    // A command that also leaves a process of its own behind, in a new session if it can.
    let marker = format!("61.{}", std::process::id());
    let script = format!("(setsid sleep {marker} || sleep {marker}) & sleep {marker}");
    // A first process that tries to clear the death signal tying it to the host, and forks.
    let python = format!(
        "import ctypes, os, time\nctypes.CDLL(None).prctl(1, 0, 0, 0, 0)\nos.fork()\ntime.sleep({marker})"
    );
    let input = serde_json::json!({ "steps": [
        { "op": "shell", "argv": ["sh", "-c", script], "timeout_ms": 100_000 },
    ]});
    let cleared = serde_json::json!({ "steps": [
        { "op": "shell", "argv": ["python3", "-c", python], "timeout_ms": 100_000 },
    ]});
    let pid = env.run_detached("sleeper", Some(&input.to_string()));
    let other = env.run_detached("sleeper", Some(&cleared.to_string()));
    assert!(
        common::wait_running(&marker, true, 30),
        "the command never started"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    env.kill_host_of(pid);
    env.kill_host_of(other);
    assert!(
        common::wait_running(&marker, false, 10),
        "a process of the command outlived its host"
    );
}
