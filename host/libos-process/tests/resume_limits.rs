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

#[test]
fn a_child_and_its_parent_that_both_took_snapshots_are_resumed_together() -> anyhow::Result<()> {
    let world = World::new()?;
    image(
        &world,
        "snap-parent",
        "capabilities = [\"fs.*\", \"events.*\", \"process.spawn:*\"]\n",
    )?;
    image(
        &world,
        "snap-kid",
        "capabilities = [\"fs.*\", \"events.*\"]\n",
    )?;
    let input = json!({ "steps": [
        { "op": "write", "path": "a", "text": "a" },
        { "op": "spawn", "image": "snap-kid", "caps": ["fs.*", "events.*"], "input": { "steps": [
            { "op": "write", "path": "x", "text": "x" },
            { "op": "snapshot" },
            { "op": "wait_event", "topic": "go" },
            { "op": "write", "path": "y", "text": "y" },
        ]}},
        { "op": "snapshot" },
        { "op": "wait_event", "topic": "go" },
        { "op": "wait", "pid": "$1" },
    ]});
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(crate::common::start(
        &kernel,
        "snap-parent",
        &input.to_string(),
        world.work(),
    ))?;
    let waits = |s: &State| matches!(s, State::Blocked(BlockedOn::Event(_)));
    until(&kernel, pid, "waited", waits)?;
    let child = kernel.table().children(pid)?[0].pid;
    // Both past their snapshots (their journals compacted) when the host dies.
    until(&kernel, child, "waited", waits)?;
    die(&world, runtime, kernel)?;
    let (runtime, kernel) = host(&world, clock)?;
    let adopted = runtime.block_on(kernel.adopt_orphans())?;
    assert_eq!(adopted.resumed, vec![pid, child], "{adopted:?}");
    until(&kernel, pid, "waited again", waits)?;
    until(&kernel, child, "waited again", waits)?;
    kernel.emit("go", &json!({}))?;
    let output = runtime.block_on(crate::common::exit_of(&kernel, pid))?;
    assert!(
        output["results"][4]["ok"].to_string().contains("exited"),
        "the child was resumed and ended: {output}"
    );
    assert_eq!(std::fs::read_to_string(world.work().join("y"))?, "y");
    Ok(())
}

#[test]
fn an_upgraded_child_charges_its_parent_nothing_twice() -> anyhow::Result<()> {
    let world = World::new()?;
    image(
        &world,
        "thrifty",
        "capabilities = [\"fs.*\", \"events.*\", \"process.spawn:*\"]\n\n\
         [budget]\nbytes_written = \"25B\"\n",
    )?;
    image(&world, "kid", "capabilities = [\"fs.*\", \"events.*\"]\n")?;
    image(
        &world,
        "kid2",
        "capabilities = [\"fs.*\", \"events.*\"]\n\n[limits]\nmax_children = 3\n",
    )?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let (runtime, kernel) = host(&world, clock)?;
    let input = json!({ "steps": [
        { "op": "spawn", "image": "kid", "caps": ["fs.*", "events.*"], "input": { "steps": [
            { "op": "write", "path": "k1", "text": "0123456789" },
            { "op": "wait_event", "topic": "go" },
        ]}},
        { "op": "wait", "pid": "$0" },
        { "op": "write", "path": "p1", "text": "0123456789" },
    ]});
    let pid = runtime.block_on(crate::common::start(
        &kernel,
        "thrifty",
        &input.to_string(),
        world.work(),
    ))?;
    until(&kernel, pid, "waited for its child", |s| {
        matches!(s, State::Blocked(BlockedOn::Child(_)))
    })?;
    let child = kernel.table().children(pid)?[0].pid;
    until(&kernel, child, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    let kid2 = libos_image::ImageStore::open(world.state.path())?.get("kid2")?;
    kernel
        .table()
        .request_upgrade(child, &kid2.digest.to_string())?;
    for _ in 0..500 {
        if kernel.table().pending_upgrades()?.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    until(&kernel, child, "waited again", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    kernel.emit("go", &json!({}))?;
    let output = runtime.block_on(crate::common::exit_of(&kernel, pid))?;
    // 10 bytes by the child, 10 by the parent: both fit in 25.
    assert!(output["results"][2].get("ok").is_some(), "{output}");
    assert_eq!(kernel.table().get(child)?.image, "kid2:1");
    Ok(())
}
