//! What a process may still spend survives a resume: the budget it started with (not the
//! one of an image it `exec`ed into), what its ended children spent, the children it started
//! (a snapshot between included), and its log quota.

use std::sync::Arc;
use std::time::Duration;

use libos::providers::ManualClock;
use libos_proctable::{BlockedOn, State};
use serde_json::{Value, json};

use crate::common::World;
use crate::resume::{die, host, until};

/// Builds image `name` of the script agent with `manifest` lines after `agent = ...`.
fn image(world: &World, name: &str, manifest: &str) -> anyhow::Result<()> {
    let dir = world.images.path().join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    std::fs::write(
        dir.join("image.toml"),
        format!("name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\n{manifest}"),
    )?;
    libos_image::ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

/// Runs `input` on image `name` until it waits for event `go`, kills its host, resumes it on
/// another, sends `go` and returns its output.
fn across_a_resume(world: &World, name: &str, input: &Value) -> anyhow::Result<Value> {
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let (runtime, kernel) = host(world, Arc::clone(&clock))?;
    let pid = runtime.block_on(crate::common::start(
        &kernel,
        name,
        &input.to_string(),
        world.work(),
    ))?;
    until(&kernel, pid, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    die(world, runtime, kernel)?;
    let (runtime, kernel) = host(world, clock)?;
    runtime.block_on(kernel.adopt_orphans())?;
    until(&kernel, pid, "waited again", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    kernel.emit("go", &json!({}))?;
    let output = runtime.block_on(crate::common::exit_of(&kernel, pid))?;
    Ok(json!({ "pid": pid, "output": output, "logs": kernel
        .table()
        .logs(pid, 0)?
        .into_iter()
        .map(|l| l.message)
        .collect::<Vec<_>>() }))
}

#[test]
fn the_budget_it_started_with_and_its_ended_childrens_spending_survive_exec_and_resume()
-> anyhow::Result<()> {
    let world = World::new()?;
    image(
        &world,
        "frugal",
        "capabilities = [\"fs.*\", \"events.*\", \"process.spawn:*\", \"process.exec:*\"]\n\n\
         [budget]\nbytes_written = \"25B\"\n",
    )?;
    image(
        &world,
        "lavish",
        "capabilities = [\"fs.*\", \"events.*\"]\n",
    )?;
    image(&world, "kid", "capabilities = [\"fs.*\"]\n")?;
    let input = json!({ "steps": [
        { "op": "write", "path": "r1", "text": "0123456789" },
        { "op": "spawn", "image": "kid", "caps": ["fs.*"], "input": { "steps": [
            { "op": "write", "path": "c1", "text": "0123456789" },
        ]}},
        { "op": "wait", "pid": "$1" },
        { "op": "exec", "image": "lavish", "input": { "steps": [
            { "op": "wait_event", "topic": "go" },
            { "op": "write", "path": "r3", "text": "0123456789" },
        ]}},
    ]});
    let run = across_a_resume(&world, "frugal", &input)?;
    // 20 bytes spent (its own 10, its child's 10): 10 more do not fit in the 25 it started
    // with, though the image it runs now has no budget.
    let steps = &run["output"]["results"];
    assert_eq!(steps[1]["err"]["kind"], "limit-exceeded", "{run}");
    assert!(!world.work().join("r3").exists());
    Ok(())
}

#[test]
fn the_children_it_started_count_across_a_snapshot_and_a_resume() -> anyhow::Result<()> {
    let world = World::new()?;
    image(
        &world,
        "one-child",
        "capabilities = [\"fs.*\", \"events.*\", \"process.spawn:*\"]\n\n\
         [limits]\nmax_children = 1\n",
    )?;
    image(&world, "kid", "capabilities = [\"fs.*\"]\n")?;
    let input = json!({ "steps": [
        { "op": "spawn", "image": "kid", "input": { "steps": [] } },
        { "op": "wait", "pid": "$0" },
        { "op": "snapshot" },
        { "op": "wait_event", "topic": "go" },
        { "op": "spawn", "image": "kid", "input": { "steps": [] } },
    ]});
    let run = across_a_resume(&world, "one-child", &input)?;
    let steps = &run["output"]["results"];
    assert_eq!(steps[4]["err"]["kind"], "limit-exceeded", "{run}");
    Ok(())
}

#[test]
fn the_log_quota_is_not_refilled_by_a_resume() -> anyhow::Result<()> {
    let world = World::new()?;
    image(
        &world,
        "chatty",
        "capabilities = [\"events.*\"]\n\n[limits]\nmax_log_bytes = 100\n",
    )?;
    let line = "x".repeat(71);
    let input = json!({ "steps": [
        { "op": "log", "message": format!("first {line}") },
        { "op": "wait_event", "topic": "go" },
        { "op": "log", "message": format!("second {line}") },
    ]});
    let run = across_a_resume(&world, "chatty", &input)?;
    let logs: Vec<&str> = run["logs"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(logs.iter().any(|l| l.starts_with("first")), "{run}");
    assert!(!logs.iter().any(|l| l.starts_with("second")), "{run}");
    Ok(())
}
