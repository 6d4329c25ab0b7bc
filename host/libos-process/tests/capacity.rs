//! Live-process bounds: a host's `max_processes` (on the serving, pooled configuration) and a
//! tree's `max_descendants`, at any depth. A full level refuses the next start with a typed
//! error and leaves nothing behind; everything already running keeps running; an end frees
//! the place.

use std::time::Duration;

use libos::host::HostOptions;
use libos_process::{ExitStatus, Kernel, ProcessError};
use libos_proctable::{ProcessFilter, State};

use crate::common::{World, exit_of, run_to_exit, start};

fn serving(w: &World, processes: u32) -> anyhow::Result<Kernel> {
    Ok(Kernel::new(HostOptions {
        state_dir: Some(w.state.path().to_path_buf()),
        ..HostOptions::serving(processes)
    })?)
}

/// A world with three images — `waiter` (parks on `go`), `mid` (the scripted agent, may
/// spawn waiters) and `root` (the scripted agent, may spawn anything, with `root_limits`) —
/// and a kernel over it.
fn tree(root_limits: &str) -> anyhow::Result<(World, Kernel)> {
    let w = World::new()?;
    w.image(
        "waiter",
        libos_guests::AGENT_WAITER,
        &["events.wait:go"],
        "",
    )?;
    let script = libos_guests::AGENT_SCRIPT;
    w.image(
        "mid",
        script,
        &["process.spawn:waiter", "events.wait:go"],
        "",
    )?;
    w.image(
        "root",
        script,
        &["process.spawn:*", "events.wait:go"],
        root_limits,
    )?;
    let kernel = Kernel::new(HostOptions {
        state_dir: Some(w.state.path().to_path_buf()),
        ..HostOptions::default()
    })?;
    Ok((w, kernel))
}

/// The script step spawning `times` waiters on `go`.
fn spawn_waiters(times: u32) -> serde_json::Value {
    serde_json::json!({ "op": "repeat", "times": times, "step": { "op": "spawn",
        "image": "waiter", "input": { "topic": "go" }, "caps": ["events.wait:go"] } })
}

/// Waits until `n` processes of the table are blocked.
async fn blocked(kernel: &Kernel, n: usize) -> anyhow::Result<()> {
    for _ in 0..400 {
        kernel.flush()?;
        let parked = kernel
            .table()
            .list(ProcessFilter::Live)?
            .iter()
            .filter(|r| matches!(r.state, State::Blocked(_)))
            .count();
        if parked >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("{n} processes never parked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_host_refuses_the_next_start_and_keeps_serving_the_others() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "waiter",
        libos_guests::AGENT_WAITER,
        &["events.wait:go"],
        "",
    )?;
    w.image("minimal", libos_guests::AGENT_MINIMAL, &[], "")?;
    let kernel = serving(&w, 3)?;
    let mut pids = Vec::new();
    for _ in 0..3 {
        pids.push(start(&kernel, "waiter", r#"{"topic":"go"}"#, w.work()).await?);
    }
    blocked(&kernel, 3).await?;
    assert_eq!(kernel.live_processes(), 3);
    let refused = start(&kernel, "minimal", "{}", w.work()).await;
    let Err(e) = refused else {
        anyhow::bail!("a fourth process started on a host of three: {refused:?}");
    };
    let said = e.to_string();
    assert!(
        matches!(
            e.downcast_ref::<ProcessError>(),
            Some(ProcessError::Capacity(_))
        ),
        "{said}"
    );
    assert!(
        said.contains("host capacity") && said.contains('3'),
        "{said}"
    );
    kernel.flush()?;
    assert_eq!(
        kernel.table().list(ProcessFilter::All)?.len(),
        3,
        "the refused start left no process behind"
    );
    // The others were not disturbed: they wake and exit normally.
    kernel.emit("go", &serde_json::json!({"n": 1}))?;
    for pid in pids {
        assert!(
            matches!(kernel.wait(pid).await?, ExitStatus::Exited(_)),
            "process {pid}"
        );
    }
    // Their ends freed their places.
    assert_eq!(kernel.live_processes(), 0);
    let out = run_to_exit(&kernel, "minimal", r#"{"after":"ends"}"#, w.work()).await?;
    assert_eq!(out["after"], "ends");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_stops_at_its_roots_max_descendants_at_any_depth() -> anyhow::Result<()> {
    // The middle process may have any number of descendants of its own; the root only 3.
    let (w, kernel) = tree("max_descendants = 3")?;
    let spawn_waiters = serde_json::json!({ "steps": [spawn_waiters(5)] });
    let input = serde_json::json!({ "steps": [
        { "op": "spawn", "image": "mid", "input": spawn_waiters,
          "caps": ["process.spawn:waiter", "events.wait:go"] },
        { "op": "wait", "pid": "$0" },
        { "op": "spawn", "image": "waiter", "input": { "topic": "go" },
          "caps": ["events.wait:go"] },
    ]});
    let root = start(&kernel, "root", &input.to_string(), w.work()).await?;
    let out = exit_of(&kernel, root).await?;
    let mid = &out["results"][1]["ok"]["output"];
    // Grandchildren count against the root: mid (1) + 2 waiters fill its 3.
    let repeat = &mid["results"][0]["ok"];
    assert_eq!(repeat["done"], 2, "{mid}");
    assert_eq!(repeat["error"]["kind"], "limit-exceeded", "{mid}");
    assert_eq!(repeat["error"]["message"], "children", "{mid}");
    // The middle process ended, freeing its place: the root's own spawn fits again.
    assert!(out["results"][2]["ok"].is_u64(), "{out}");
    kernel.end_tree(root)?;
    kernel.flush()?;
    let all = kernel.table().list(ProcessFilter::All)?;
    assert_eq!(
        all.len(),
        5,
        "root, mid, 2 + 1 waiters; refusals left nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_root_ends_every_live_descendant_as_killed() -> anyhow::Result<()> {
    let (w, kernel) = tree("")?;
    // The middle process parks on an event after spawning: both levels are live when the
    // root exits without waiting for anyone.
    let mid_input = serde_json::json!({ "steps": [
        spawn_waiters(3),
        { "op": "wait_event", "topic": "go" },
    ]});
    let input = serde_json::json!({ "steps": [
        spawn_waiters(4),
        { "op": "spawn", "image": "mid", "input": mid_input,
          "caps": ["process.spawn:waiter", "events.wait:go"] },
    ]});
    let root = start(&kernel, "root", &input.to_string(), w.work()).await?;
    assert!(matches!(kernel.wait(root).await?, ExitStatus::Exited(_)));
    blocked(&kernel, 8).await?;
    let ended = kernel.end_tree(root)?;
    assert_eq!(ended.len(), 8, "4 waiters, mid and its 3: {ended:?}");
    kernel.flush()?;
    for record in kernel.table().descendants(root)? {
        assert_eq!(record.state, State::Killed, "process {}", record.pid);
        assert!(
            matches!(kernel.wait(record.pid).await?, ExitStatus::Killed),
            "process {}",
            record.pid
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_short_lived_processes_stops_at_the_depth_bound() -> anyhow::Result<()> {
    let w = World::new()?;
    // Each process starts one copy of itself and exits: never more than two alive, so only
    // the depth bound stops the chain.
    w.image(
        "loop",
        libos_guests::AGENT_SPAWN_LOOP,
        &["process.spawn:loop"],
        "",
    )?;
    let kernel = serving(&w, 64)?;
    let root = start(&kernel, "loop", r#"{"image":"loop","max":1}"#, w.work()).await?;
    let depth = usize::try_from(libos_process::MAX_DEPTH)?;
    for _ in 0..400 {
        kernel.flush()?;
        let all = kernel.table().list(ProcessFilter::All)?;
        if all.len() >= depth && all.iter().all(|r| r.state.is_ended()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let all = kernel.table().list(ProcessFilter::All)?;
    assert_eq!(
        all.len(),
        depth,
        "the chain is exactly as deep as the bound"
    );
    assert_eq!(all[0].pid, root);
    let deepest = all.last().map(|r| r.pid).unwrap_or_default();
    let out = exit_of(&kernel, deepest).await?;
    assert_eq!(out["spawned"], 0, "{out}");
    assert_eq!(out["error"]["kind"], "limit-exceeded", "{out}");
    assert_eq!(kernel.live_processes(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawn_asking_for_too_many_or_too_long_capabilities_starts_nothing() -> anyhow::Result<()>
{
    let (w, kernel) = tree("")?;
    let many: Vec<String> = (0..65).map(|i| format!("events.wait:t{i}")).collect();
    let long = format!("events.wait:{}", "x".repeat(1100));
    let input = serde_json::json!({ "steps": [
        { "op": "spawn", "image": "waiter", "input": { "topic": "go" }, "caps": many },
        { "op": "spawn", "image": "waiter", "input": { "topic": "go" }, "caps": [long] },
        { "op": "spawn", "image": "waiter", "input": { "topic": "go" },
          "caps": ["events.wait:go"] },
    ]});
    let root = start(&kernel, "root", &input.to_string(), w.work()).await?;
    let out = exit_of(&kernel, root).await?;
    for refused in [0, 1] {
        assert_eq!(out["results"][refused]["err"]["kind"], "invalid", "{out}");
    }
    assert!(
        out["results"][2]["ok"].is_u64(),
        "the allowed spawn works: {out}"
    );
    kernel.end_tree(root)?;
    kernel.flush()?;
    assert_eq!(
        kernel.table().list(ProcessFilter::All)?.len(),
        2,
        "root and one waiter"
    );
    Ok(())
}
