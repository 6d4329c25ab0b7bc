//! Hostile processes: floods, spawn loops and foreign kills get typed errors, and the host
//! keeps serving everyone else.

use crate::common;

use std::time::Duration;

use common::{World, kernel, run_to_exit, start};
use libos_memory::ObjectStore;
use libos_proctable::State;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_flood_stops_at_the_namespace_limit() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "flood",
        libos_guests::AGENT_OBJECT_FLOOD,
        &["memory.write:self/**"],
        "max_objects = 10\nwall_clock = \"20s\"",
    )?;
    let kernel = kernel(w.state.path())?;
    let out = run_to_exit(&kernel, "flood", "{}", w.work()).await?;
    assert_eq!(out["count"], 10, "{out}");
    assert_eq!(out["error"]["kind"], "limit-exceeded", "{out}");
    let pid = kernel.table().list(libos_proctable::ProcessFilter::All)?[0].pid;
    let store = ObjectStore::open(kernel.host().state().db_path())?;
    assert_eq!(store.usage(&format!("pid:{pid}"))?.objects, 10);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_without_the_capability_is_denied_and_stores_nothing() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "flood",
        libos_guests::AGENT_OBJECT_FLOOD,
        &["memory.read:self/**"],
        "",
    )?;
    let kernel = kernel(w.state.path())?;
    let out = run_to_exit(&kernel, "flood", "{}", w.work()).await?;
    assert_eq!(out["count"], 0, "{out}");
    assert_eq!(out["error"]["kind"], "denied", "{out}");
    let pid = kernel.table().list(libos_proctable::ProcessFilter::All)?[0].pid;
    let store = ObjectStore::open(kernel.host().state().db_path())?;
    assert_eq!(store.usage(&format!("pid:{pid}"))?.objects, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawn_loop_stops_at_max_children_and_the_host_keeps_serving() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "agent-spawn-loop",
        libos_guests::AGENT_SPAWN_LOOP,
        &["process.spawn:agent-spawn-loop"],
        "max_children = 3\nwall_clock = \"20s\"",
    )?;
    w.image("minimal", libos_guests::AGENT_MINIMAL, &[], "")?;
    let kernel = kernel(w.state.path())?;
    let out = run_to_exit(
        &kernel,
        "agent-spawn-loop",
        r#"{"inherit": false}"#,
        w.work(),
    )
    .await?;
    assert_eq!(out["spawned"], 3, "{out}");
    assert_eq!(out["error"]["kind"], "limit-exceeded", "{out}");
    // Children were asked for nothing, so their own spawns were denied: 1 + 3 processes.
    assert_eq!(
        kernel
            .table()
            .list(libos_proctable::ProcessFilter::All)?
            .len(),
        4
    );
    let echoed = run_to_exit(&kernel, "minimal", r#"{"still":"serving"}"#, w.work()).await?;
    assert_eq!(echoed["still"], "serving");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_foreign_process_is_denied_and_leaves_it_running() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "spinner",
        libos_guests::AGENT_SPINNER,
        &[],
        "wall_clock = \"30s\"",
    )?;
    w.image(
        "killer",
        libos_guests::AGENT_KILL_FOREIGN,
        &["process.kill:**"],
        "",
    )?;
    let kernel = kernel(w.state.path())?;
    let victim = start(&kernel, "spinner", "{}", w.work()).await?;
    let input = format!(r#"{{"pid": {victim}}}"#);
    let out = run_to_exit(&kernel, "killer", &input, w.work()).await?;
    assert_eq!(out["killed"], false, "{out}");
    assert_eq!(out["error"]["kind"], "denied", "{out}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let state = kernel.table().get(victim)?.state;
    assert!(
        matches!(state, State::Running | State::Ready),
        "the victim must still run: {state:?}"
    );
    // The spinner is preempted, not starving the killer; its owner can still kill it.
    kernel.kill(victim)?;
    assert_eq!(
        kernel.wait(victim).await?,
        libos_process::ExitStatus::Killed
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_wait_times_out_and_a_wait_without_the_capability_is_denied() -> anyhow::Result<()>
{
    let w = World::new()?;
    w.image(
        "waiter",
        libos_guests::AGENT_WAITER,
        &["events.wait:news"],
        "",
    )?;
    let kernel = kernel(w.state.path())?;
    let out = run_to_exit(
        &kernel,
        "waiter",
        r#"{"topic":"news","timeout_ms":50}"#,
        w.work(),
    )
    .await?;
    assert_eq!(out["event"], serde_json::Value::Null, "{out}");
    let pid = start(&kernel, "waiter", r#"{"topic":"secrets"}"#, w.work()).await?;
    let status = kernel.wait(pid).await?;
    let libos_process::ExitStatus::Failed(reason) = status else {
        anyhow::bail!("expected a denial, got {status:?}");
    };
    assert!(reason.contains("denied"), "{reason}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_spinners_do_not_starve_a_ticking_process() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "spinner",
        libos_guests::AGENT_SPINNER,
        &[],
        "wall_clock = \"60s\"",
    )?;
    w.image(
        "ticker",
        libos_guests::AGENT_TICKER,
        &[],
        "wall_clock = \"60s\"",
    )?;
    let kernel = kernel(w.state.path())?;
    // Two spinners: as many as the runtime has worker threads. Without time slices they
    // would hold both threads forever.
    let spinners = [
        start(&kernel, "spinner", "{}", w.work()).await?,
        start(&kernel, "spinner", "{}", w.work()).await?,
    ];
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ticker = start(&kernel, "ticker", r#"{"n": 2000}"#, w.work()).await?;
    let status = tokio::time::timeout(Duration::from_secs(30), kernel.wait(ticker))
        .await
        .map_err(|_| anyhow::anyhow!("the ticker starved behind the spinners"))??;
    let libos_process::ExitStatus::Exited(out) = status else {
        anyhow::bail!("ticker did not exit: {status:?}");
    };
    let out: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(out["count"], 2000, "{out}");
    for spinner in spinners {
        let state = kernel.table().get(spinner)?.state;
        assert!(
            matches!(state, State::Running | State::Ready),
            "the spinners keep running too: {state:?}"
        );
        kernel.kill(spinner)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_cwd_through_a_symlink_out_of_the_workdir_is_refused() -> anyhow::Result<()> {
    let w = World::new()?;
    let outside = tempfile::tempdir()?;
    std::fs::create_dir(w.work().join("sub"))?;
    std::os::unix::fs::symlink(outside.path(), w.work().join("out"))?;
    w.image(
        "agent-escalate",
        libos_guests::AGENT_ESCALATE,
        &["process.spawn:agent-escalate"],
        "",
    )?;
    let kernel = kernel(w.state.path())?;
    let ask = r#""ask": ["process.spawn:agent-escalate"]"#;
    for (cwd, granted) in [
        ("sub", true),
        ("out", false),
        ("../x", false),
        ("/tmp", false),
    ] {
        let input = format!(r#"{{"level": 1, {ask}, "cwd": {cwd:?}}}"#);
        let out = run_to_exit(&kernel, "agent-escalate", &input, w.work()).await?;
        let spawn = &out["trace"][0]["spawn"];
        assert_eq!(spawn["granted"], granted, "cwd {cwd}: {out}");
    }
    let children: Vec<String> = kernel
        .table()
        .list(libos_proctable::ProcessFilter::All)?
        .into_iter()
        .filter(|r| r.parent.is_some())
        .map(|r| r.cwd)
        .collect();
    assert_eq!(children, ["/sub"]);
    Ok(())
}
