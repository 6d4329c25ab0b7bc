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

/// A waiter parks from deep in its stack (its host call then gives back the fiber stack below
/// it, `libos::wasm::parking`), is woken, parks again and times out, and goes on; one that
/// recurses past its stack fails with a trap, and the host keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_parked_deep_in_its_stack_wakes_and_goes_on() -> anyhow::Result<()> {
    let w = World::new()?;
    w.image(
        "script",
        libos_guests::AGENT_SCRIPT,
        &["events.wait:deep"],
        "wall_clock = \"60s\"",
    )?;
    let kernel = kernel(w.state.path())?;
    let wait = |timeout_ms: u64| serde_json::json!({ "op": "wait_event", "topic": "deep", "timeout_ms": timeout_ms });
    let script = serde_json::json!({ "stop_on_error": true, "steps": [
        { "op": "deep", "depth": 1500, "step": wait(30000) },
        { "op": "deep", "depth": 1000, "step": wait(50) },
        { "op": "deep", "depth": 1, "step": { "op": "now" } },
    ]});
    let pid = start(&kernel, "script", &script.to_string(), w.work()).await?;
    // Parked (blocked on the event) before it is emitted.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while kernel.table().get(pid)?.state.name() != "blocked" {
        let state = kernel.table().get(pid)?.state;
        anyhow::ensure!(
            std::time::Instant::now() < deadline && !state.is_ended(),
            "never parked: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kernel.emit("deep", &serde_json::json!({"n": 7}))?;
    let libos_process::ExitStatus::Exited(out) = kernel.wait(pid).await? else {
        anyhow::bail!("the deep waiter did not exit");
    };
    let out: serde_json::Value = serde_json::from_str(&out)?;
    let results = &out["results"];
    assert_eq!(results[0]["ok"]["n"], 7, "{out}");
    assert_eq!(
        results[1]["ok"],
        serde_json::Value::Null,
        "timed out: {out}"
    );
    assert!(results[2]["ok"].as_f64().is_some_and(|t| t > 0.0), "{out}");

    // Past the guest's stack (its shadow stack in linear memory runs out first): a trap, for
    // this process only.
    let too_deep = serde_json::json!({ "steps": [
        { "op": "deep", "depth": 10_000_000, "step": wait(10) },
    ]});
    let pid = start(&kernel, "script", &too_deep.to_string(), w.work()).await?;
    let libos_process::ExitStatus::Failed(why) = kernel.wait(pid).await? else {
        anyhow::bail!("recursing past the stack limit did not fail");
    };
    assert!(why.starts_with("trap:"), "{why}");
    let again = run_to_exit(&kernel, "script", &script_now(), w.work()).await?;
    assert!(again["results"][0]["ok"].as_f64().is_some(), "{again}");
    Ok(())
}

fn script_now() -> String {
    serde_json::json!({ "steps": [{ "op": "now" }] }).to_string()
}
