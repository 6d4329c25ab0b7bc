//! Events are stored in the process table: they reach waiters in another host, are not
//! replayed to processes started after them, and a flood is refused at the image's rate.

use crate::common;

use std::time::Duration;

use common::{World, kernel, run_to_exit, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_flood_is_refused_at_the_rate_and_the_host_keeps_serving() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "flood",
        libos_guests::AGENT_EVENT_FLOOD,
        &["events.emit:flood"],
        "events_per_second = 40\nwall_clock = \"20s\"",
    )?;
    w.image(
        "waiter",
        libos_guests::AGENT_WAITER,
        &["events.wait:flood"],
        "",
    )?;
    let kernel = kernel(w.state.path())?;
    // Someone else keeps waiting on the flooded topic meanwhile, and gets the first event.
    let waiter = start(&kernel, "waiter", r#"{"topic":"flood"}"#, w.work()).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let began = std::time::Instant::now();
    let out = run_to_exit(&kernel, "flood", "{}", w.work()).await?;
    let took = began.elapsed().as_secs_f64();
    let count = out["count"].as_u64().unwrap_or(0);
    // The bucket starts full (40) and refills at 40/s during the burst (each emit waits for
    // its record to be stored, so the burst takes a while): never more than that.
    let most = 40 + (40.0 * took).ceil() as u64;
    assert!((40..=most).contains(&count), "{out} in {took:.3}s");
    assert_eq!(out["error"]["kind"], "limit-exceeded", "{out}");
    assert_eq!(
        kernel.table().events(Some("flood"), 0, 1000)?.len() as u64,
        count,
        "exactly the accepted events are stored"
    );
    let libos_process::ExitStatus::Exited(got) = kernel.wait(waiter).await? else {
        anyhow::bail!("the waiter did not exit");
    };
    let got: serde_json::Value = serde_json::from_str(&got)?;
    assert_eq!(got["event"]["payload"]["seq"], 0, "{got}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitting_without_the_capability_is_denied_and_stores_nothing() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image("flood", libos_guests::AGENT_EVENT_FLOOD, &[], "")?;
    let kernel = kernel(w.state.path())?;
    let out = run_to_exit(&kernel, "flood", "{}", w.work()).await?;
    assert_eq!(out["count"], 0, "{out}");
    assert_eq!(out["error"]["kind"], "denied", "{out}");
    assert!(kernel.table().events(Some("flood"), 0, 10)?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_another_host_wakes_a_waiter_and_old_ones_are_not_replayed()
-> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "waiter",
        libos_guests::AGENT_WAITER,
        &["events.wait:news"],
        "",
    )?;
    let here = kernel(w.state.path())?;
    let there = kernel(w.state.path())?;
    // Emitted before the waiter starts: not for it.
    there.emit("news", &serde_json::json!({"n": 1}))?;
    let waiter = start(&here, "waiter", r#"{"topic":"news"}"#, w.work()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        here.table().get(waiter)?.state.name(),
        "blocked",
        "the earlier event was not delivered"
    );
    there.emit("news", &serde_json::json!({"n": 2}))?;
    let status = tokio::time::timeout(Duration::from_secs(10), here.wait(waiter)).await??;
    let libos_process::ExitStatus::Exited(got) = status else {
        anyhow::bail!("the waiter did not exit: {status:?}");
    };
    let got: serde_json::Value = serde_json::from_str(&got)?;
    assert_eq!(got["event"]["payload"]["n"], 2, "{got}");
    assert_eq!(got["event"]["source"], 0, "{got}");
    Ok(())
}
