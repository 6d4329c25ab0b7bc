//! Messages, signals, pause/resume and exec between processes, driven by the `agent_script`
//! fixture (each step's outcome is in its output).

use std::time::Duration;

use crate::common;

use common::{Fixture, fixture, results, run_to_exit, start};
use libos_process::{ExitStatus, Start};
use libos_proctable::{ProcessTable, State};
use serde_json::{Value, json};

/// A state directory with the image `script` (the scripted fixture) holding `caps`, and a
/// kernel on it.
fn script_host(caps: &[&str]) -> anyhow::Result<Fixture> {
    fixture(
        "script",
        libos_guests::AGENT_SCRIPT,
        caps,
        "max_children = 4\nwall_clock = \"20s\"",
    )
}

fn ok(result: &Value) -> &Value {
    assert!(result.get("err").is_none(), "step failed: {result}");
    &result["ok"]
}

fn err_kind(result: &Value) -> &str {
    result["err"]["kind"].as_str().unwrap_or("(no error)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_and_child_exchange_messages_and_an_interrupt_comes_first() -> anyhow::Result<()> {
    let f = script_host(&["process.spawn:script", "events.emit:go", "events.wait:go"])?;
    let (kernel, work) = (&f.kernel, &f.work);
    // The child waits for `go` (so both messages are queued before it looks), then takes
    // two messages and answers its parent.
    let child = json!({ "steps": [
        { "op": "wait_event", "topic": "go", "timeout_ms": 10000 },
        { "op": "recv", "timeout_ms": 5000 },
        { "op": "recv", "timeout_ms": 5000 },
        { "op": "send", "to": "parent", "body": { "child": "done" } },
    ]});
    let parent = json!({ "stop_on_error": true, "steps": [
        { "op": "spawn", "image": "script", "input": child, "caps": ["events.wait:go"] },
        { "op": "send", "to": "$0", "body": { "n": 1 } },
        { "op": "signal", "pid": "$0", "kind": "interrupt" },
        { "op": "emit", "topic": "go", "payload": {} },
        { "op": "recv", "timeout_ms": 10000 },
        { "op": "wait", "pid": "$0" },
        { "op": "self" },
    ]});
    let out = run_to_exit(kernel, "script", &parent.to_string(), work.path()).await?;
    let steps = results(&out);
    assert_eq!(steps.len(), 7, "{out}");
    let child_pid = ok(&steps[0]).as_u64().unwrap_or_default();
    let parent_pid = ok(&steps[6])["pid"].as_u64().unwrap_or_default();
    assert_eq!(
        ok(&steps[4]),
        &json!({ "from": child_pid, "body": { "child": "done" } }),
        "{out}"
    );
    let child_steps = results(&ok(&steps[5])["output"]);
    assert_eq!(ok(&child_steps[1]), &json!({ "interrupt": parent_pid }));
    assert_eq!(
        ok(&child_steps[2]),
        &json!({ "from": parent_pid, "body": { "n": 1 } })
    );
    // Every queue was emptied.
    assert!(kernel.table().receive(child_pid)?.is_none());
    assert!(kernel.table().receive(parent_pid)?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrelated_process_may_send_only_with_a_capability_naming_the_target()
-> anyhow::Result<()> {
    let f = script_host(&[])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let receiver = json!({ "steps": [{ "op": "recv", "timeout_ms": 10000 }] });
    let target = start(kernel, "script", &receiver.to_string(), work.path()).await?;

    // Not its parent or child, and no capability: refused, and nothing is queued.
    let send = json!({ "steps": [{ "op": "send", "to": target, "body": { "hi": 1 } }] });
    let out = run_to_exit(kernel, "script", &send.to_string(), work.path()).await?;
    assert_eq!(err_kind(&results(&out)[0]), "denied", "{out}");
    assert!(
        kernel.table().receive(target)?.is_none(),
        "a refused send queued a message"
    );

    // With `process.send:process/<target>` it arrives.
    let sender = kernel
        .start(Start {
            image: "script".into(),
            input: send.to_string(),
            capabilities: Some(vec![format!("process.send:process/{target}").parse()?]),
            workdir: work.path().to_path_buf(),
            cwd: "/".into(),
            parent: None,
        })
        .await?;
    let ExitStatus::Exited(sent) = kernel.wait(sender).await? else {
        anyhow::bail!("the sender did not exit");
    };
    let sent: Value = serde_json::from_str(&sent)?;
    assert_eq!(ok(&results(&sent)[0]), &Value::Null);
    let ExitStatus::Exited(received) = kernel.wait(target).await? else {
        anyhow::bail!("the receiver did not exit");
    };
    let received: Value = serde_json::from_str(&received)?;
    assert_eq!(
        ok(&results(&received)[0]),
        &json!({ "from": sender, "body": { "hi": 1 } })
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_and_an_oversized_body_are_limit_exceeded() -> anyhow::Result<()> {
    let f = script_host(&["process.spawn:script", "events.wait:never"])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let child = json!({ "steps": [{ "op": "recv", "timeout_ms": 0 }, { "op": "wait_event", "topic": "never", "timeout_ms": 20000 }] });
    let big = "x".repeat(libos_proctable::mailbox::MAX_BODY + 1);
    let parent = json!({ "steps": [
        { "op": "spawn", "image": "script", "input": child, "caps": ["events.wait:never"] },
        { "op": "repeat", "times": 1000, "step": { "op": "send", "to": "$0", "body": { "n": 1 } } },
        { "op": "send", "to": "$0", "body": big },
        { "op": "kill", "pid": "$0" },
    ]});
    let out = run_to_exit(kernel, "script", &parent.to_string(), work.path()).await?;
    let steps = results(&out);
    let flood = ok(&steps[1]);
    // The child may have taken at most one message before the flood filled its queue.
    let done = flood["done"].as_u64().unwrap_or_default();
    let max = libos_proctable::mailbox::MAX_QUEUED as u64;
    assert!((max..=max + 1).contains(&done), "{out}");
    assert_eq!(
        flood["error"],
        json!({ "kind": "limit-exceeded", "message": "output" })
    );
    assert_eq!(
        steps[2]["err"],
        json!({ "kind": "limit-exceeded", "message": "output" })
    );
    ok(&steps[3]);
    // The killed child's queue is gone with it.
    let child_pid = ok(&steps[0]).as_u64().unwrap_or_default();
    assert!(kernel.table().receive(child_pid)?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recv_without_mail_times_out_with_none() -> anyhow::Result<()> {
    let f = script_host(&[])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let script = json!({ "steps": [
        { "op": "recv", "timeout_ms": 0 },
        { "op": "recv", "timeout_ms": 50 },
    ]});
    let out = run_to_exit(kernel, "script", &script.to_string(), work.path()).await?;
    let steps = results(&out);
    assert_eq!(ok(&steps[0]), &Value::Null);
    assert_eq!(ok(&steps[1]), &Value::Null);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_only_descendants_and_terminate_kills() -> anyhow::Result<()> {
    let f = script_host(&["process.spawn:script", "events.wait:never"])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let idle = json!({ "steps": [{ "op": "wait_event", "topic": "never", "timeout_ms": 20000 }] });
    let stranger = start(kernel, "script", &idle.to_string(), work.path()).await?;
    let parent = json!({ "steps": [
        { "op": "spawn", "image": "script", "input": idle, "caps": ["events.wait:never"] },
        { "op": "signal", "pid": stranger, "kind": "terminate" },
        { "op": "signal", "pid": stranger, "kind": "pause" },
        { "op": "signal", "pid": "$0", "kind": "terminate" },
        { "op": "wait", "pid": "$0" },
    ]});
    let out = run_to_exit(kernel, "script", &parent.to_string(), work.path()).await?;
    let steps = results(&out);
    assert_eq!(err_kind(&steps[1]), "denied", "{out}");
    assert_eq!(err_kind(&steps[2]), "denied", "{out}");
    assert_eq!(ok(&steps[4]), &json!({ "state": "killed" }));
    // The stranger was left alone.
    assert!(kernel.table().get(stranger)?.state.is_live());
    assert!(!matches!(
        kernel.table().get(stranger)?.state,
        State::Paused { .. }
    ));
    kernel.kill(stranger)?;
    Ok(())
}

/// The highest log position of `pid` so far.
fn log_position(table: &ProcessTable, pid: u64, after: u64) -> anyhow::Result<u64> {
    Ok(table.logs(pid, after)?.last().map_or(after, |r| r.seq))
}

/// Waits until the log of `pid` grows past `after`; returns the new position.
async fn log_grows(table: &ProcessTable, pid: u64, after: u64) -> anyhow::Result<u64> {
    for _ in 0..200 {
        let now = log_position(table, pid, after)?;
        if now > after {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the log of {pid} did not grow past {after}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_from_another_invocation_stops_a_busy_process_and_resume_restarts_it()
-> anyhow::Result<()> {
    let f = fixture(
        "ticker",
        libos_guests::AGENT_TICKER,
        &[],
        "wall_clock = \"60s\"",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    let pid = start(kernel, "ticker", "{}", work.path()).await?;
    // A second handle on the same database, as `libos pause` in another terminal has.
    let other = ProcessTable::open(kernel.host().state().db_path())?;
    let moving = log_grows(&other, pid, 0).await?;

    assert_eq!(other.pause_subtree(pid)?, [pid]);
    // Within a few table polls the host stops scheduling it: its log stops growing.
    tokio::time::sleep(libos_process::TABLE_POLL * 4).await;
    let stopped = log_position(&other, pid, moving)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        log_position(&other, pid, stopped)?,
        stopped,
        "a paused process ran"
    );
    assert!(matches!(other.get(pid)?.state, State::Paused { .. }));

    assert_eq!(other.resume_subtree(pid)?, [pid]);
    log_grows(&other, pid, stopped).await?;
    assert!(!matches!(other.get(pid)?.state, State::Paused { .. }));

    // The same through this host's own handle.
    assert_eq!(kernel.pause(pid)?, [pid]);
    tokio::time::sleep(libos_process::TABLE_POLL * 2).await;
    let stopped = log_position(&other, pid, 0)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        log_position(&other, pid, stopped)?,
        stopped,
        "a paused process ran"
    );
    kernel.resume(pid)?;
    log_grows(&other, pid, stopped).await?;

    kernel.kill(pid)?;
    assert_eq!(kernel.wait(pid).await?, ExitStatus::Killed);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_keeps_the_pid_and_never_grows_capabilities() -> anyhow::Result<()> {
    let f = script_host(&[
        "process.exec:script-next",
        "events.emit:a",
        "events.emit:b",
        "fs.read:src/**",
    ])?;
    // The next image asks for less of one, more of another, and something new.
    f.image(
        "script-next",
        libos_guests::AGENT_SCRIPT,
        &["events.emit:a", "fs.read:**", "fs.write:**"],
        "",
    )?;
    let (kernel, work) = (&f.kernel, &f.work);
    let next = json!({ "steps": [{ "op": "self" }] });
    let script = json!({ "steps": [
        { "op": "exec", "image": "other", "input": next },
        { "op": "exec", "image": "script-next", "input": next },
    ]});
    let pid = start(kernel, "script", &script.to_string(), work.path()).await?;
    let ExitStatus::Exited(output) = kernel.wait(pid).await? else {
        anyhow::bail!("exec'd process did not exit");
    };
    let out: Value = serde_json::from_str(&output)?;
    let steps = results(&out);
    let me = ok(&steps[0]);
    assert_eq!(me["pid"], pid);
    assert!(
        me["image"]
            .as_str()
            .unwrap_or_default()
            .starts_with("script-next"),
        "{me}"
    );
    assert_eq!(
        me["capabilities"],
        json!(["events.emit:a", "fs.read:src/**"]),
        "{me}"
    );
    let record = kernel.table().get(pid)?;
    assert!(record.image.starts_with("script-next"), "{}", record.image);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_exec_leaves_the_caller_running_unchanged() -> anyhow::Result<()> {
    let f = script_host(&["process.exec:missing"])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let script = json!({ "steps": [
        { "op": "exec", "image": "script", "input": {} },
        { "op": "exec", "image": "missing", "input": {} },
        { "op": "self" },
    ]});
    let out = run_to_exit(kernel, "script", &script.to_string(), work.path()).await?;
    let steps = results(&out);
    assert_eq!(err_kind(&steps[0]), "denied", "{out}");
    assert_eq!(err_kind(&steps[1]), "not-found", "{out}");
    let me = ok(&steps[2]);
    assert!(
        me["image"]
            .as_str()
            .unwrap_or_default()
            .starts_with("script:"),
        "{me}"
    );
    assert_eq!(me["capabilities"], json!(["process.exec:missing"]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_are_stored_per_process() -> anyhow::Result<()> {
    let f = script_host(&[])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let script = json!({ "steps": [
        { "op": "log", "message": "first" },
        { "op": "log", "message": "second" },
    ]});
    let pid = start(kernel, "script", &script.to_string(), work.path()).await?;
    kernel.wait(pid).await?;
    let lines: Vec<(String, String)> = kernel
        .table()
        .logs(pid, 0)?
        .into_iter()
        .map(|r| (r.level, r.message))
        .collect();
    assert_eq!(
        lines,
        [
            ("info".into(), "first".into()),
            ("info".into(), "second".into())
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_pids_and_timeouts_get_typed_errors_and_the_host_keeps_serving()
-> anyhow::Result<()> {
    let f = script_host(&["process.spawn:script", "process.exec:*"])?;
    let (kernel, work) = (&f.kernel, &f.work);
    let forever = json!({ "steps": [{ "op": "recv", "timeout_ms": u64::MAX }] });
    let script = json!({ "steps": [
        { "op": "send", "to": u64::MAX, "body": {} },
        { "op": "send", "to": 0, "body": {} },
        { "op": "signal", "pid": u64::MAX, "kind": "interrupt" },
        { "op": "signal", "pid": 0, "kind": "pause" },
        { "op": "kill", "pid": u64::MAX },
        { "op": "wait", "pid": u64::MAX },
        { "op": "exec", "image": "x".repeat(100_000), "input": {} },
        { "op": "exec", "image": "../../etc:passwd", "input": {} },
        // A child parked with the longest timeout there is; killed below.
        { "op": "spawn", "image": "script", "input": forever },
        { "op": "self" },
        { "op": "tool", "name": "t".repeat(100_000), "input": {} },
    ]});
    let out = run_to_exit(kernel, "script", &script.to_string(), work.path()).await?;
    let steps = results(&out);
    for (i, step) in steps.iter().enumerate().take(8) {
        let kind = err_kind(step);
        assert!(
            ["denied", "not-found", "invalid"].contains(&kind),
            "step {i}: {step}"
        );
    }
    assert_eq!(err_kind(&steps[6]), "invalid", "{}", steps[6]);
    assert_eq!(err_kind(&steps[10]), "invalid", "{}", steps[10]);
    // The malformed reference was refused before any decision, the oversized tool name was
    // audited cut short: no record holds either.
    kernel.host().flush_audit()?;
    let records = libos_audit::read_records(&kernel.host().state().db_path(), None)?;
    assert!(
        records
            .iter()
            .all(|r| r.record.decided.resource.len() < 1000),
        "a 100 KB image name reached the audit log"
    );
    let child = ok(&steps[8]).as_u64().unwrap_or_default();
    assert!(kernel.table().get(child)?.state.is_live());
    kernel.kill(child)?;
    assert_eq!(kernel.wait(child).await?, ExitStatus::Killed);
    // Still serving.
    let again = json!({ "steps": [{ "op": "self" }] });
    let out = run_to_exit(kernel, "script", &again.to_string(), work.path()).await?;
    ok(&results(&out)[0]);
    Ok(())
}
