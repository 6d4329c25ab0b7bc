//! Hostile processes: floods, spawn loops and foreign kills get typed errors, and the host
//! keeps serving everyone else.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{fixture_image, kernel, run_to_exit, start};
use libos_kernel::State;
use libos_memory::ObjectStore;

struct World {
    state: tempfile::TempDir,
    images: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl World {
    fn new() -> anyhow::Result<World> {
        Ok(World {
            state: tempfile::tempdir()?,
            images: tempfile::tempdir()?,
            work: tempfile::tempdir()?,
        })
    }

    fn image(
        &self,
        name: &str,
        component: &str,
        caps: &[&str],
        limits: &str,
    ) -> anyhow::Result<()> {
        fixture_image(
            self.state.path(),
            self.images.path(),
            name,
            component,
            caps,
            limits,
        )
    }

    fn work(&self) -> &Path {
        self.work.path()
    }
}

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
    let pid = kernel.table().list(libos_kernel::ProcessFilter::All)?[0].pid;
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
    let pid = kernel.table().list(libos_kernel::ProcessFilter::All)?[0].pid;
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
        kernel.table().list(libos_kernel::ProcessFilter::All)?.len(),
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
