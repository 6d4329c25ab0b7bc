//! Snapshots (`process.snapshot`, export `restorable.restore`): the journal is compacted at a
//! snapshot, and a process resumed by another host restores it and goes on from there, with
//! nothing before it run again; an agent that cannot restore is refused one.

use std::sync::Arc;
use std::time::Duration;

use libos::providers::ManualClock;
use libos_journal::Journal;
use libos_proctable::{BlockedOn, State};
use serde_json::json;

use crate::common::{self, World};
use crate::resume::{die, host, script_of, until, wake_in_three_hours};

#[test]
fn a_snapshot_compacts_the_journal_and_the_resumed_process_goes_on_from_it() -> anyhow::Result<()> {
    let world = World::new()?;
    script_of(&world, "snapshotter", libos_guests::AGENT_SCRIPT)?;
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let input = json!({ "steps": [
        { "op": "repeat", "times": 300, "step": { "op": "put", "kind": "k", "key": "{i}", "value": 1 } },
        { "op": "write", "path": "before.txt", "text": "once" },
        { "op": "snapshot" },
        { "op": "sleep", "ms": 6 * 3600 * 1000 },
        { "op": "write", "path": "after.txt", "text": "woke" },
    ]})
    .to_string();
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let pid = runtime.block_on(common::start(&kernel, "snapshotter", &input, world.work()))?;
    until(&kernel, pid, "slept", |s| {
        *s == State::Blocked(BlockedOn::Sleep)
    })?;
    // 300 puts, a write, the snapshot, the sleep: only the snapshot and the sleep are left.
    let journal = Journal::open(&world.state.path().join("libos.db"))?;
    let entries = journal.entries(pid)?;
    let calls: Vec<&str> = entries.iter().map(|e| e.function.as_str()).collect();
    assert_eq!(calls, vec!["snapshot", "sleep"], "{entries:?}");
    die(&world, runtime, kernel)?;

    clock.advance(Duration::from_secs(3 * 3600));
    let (runtime, kernel) = host(&world, Arc::clone(&clock))?;
    let adopted = runtime.block_on(kernel.adopt_orphans())?;
    assert_eq!(adopted.resumed, vec![pid], "{adopted:?}");
    until(&kernel, pid, "slept again", |s| {
        *s == State::Blocked(BlockedOn::Sleep)
    })?;
    wake_in_three_hours(&clock, &world.work().join("after.txt"));
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    let steps = common::results(&output);
    // The results before the snapshot came back with it.
    assert_eq!(steps.len(), 5, "{output}");
    assert_eq!(steps[0]["ok"]["done"], json!(300), "{output}");
    assert!(steps.iter().all(|s| s.get("ok").is_some()), "{output}");
    // Nothing before the snapshot ran again: one write, each object at version 1.
    let writes = common::records_of(world.state.path(), "fs.write")?;
    let before: Vec<_> = writes.iter().filter(|(_, r)| r == "before.txt").collect();
    assert_eq!(before.len(), 1, "{writes:?}");
    let puts = common::records_of(world.state.path(), "memory.write")?;
    assert_eq!(puts.len(), 300, "{puts:?}");
    assert_eq!(
        std::fs::read_to_string(world.work().join("after.txt"))?,
        "woke"
    );
    Ok(())
}

#[test]
fn an_agent_that_cannot_restore_is_refused_a_snapshot() -> anyhow::Result<()> {
    let world = World::new()?;
    // The WASI build of the script agent does not export `restorable`.
    script_of(&world, "plain", libos_guests::AGENT_SCRIPT_WASI)?;
    let input = json!({ "steps": [
        { "op": "put", "kind": "k", "key": "a", "value": 1 },
        { "op": "snapshot" },
        { "op": "wait_event", "topic": "go" },
        { "op": "put", "kind": "k", "key": "b", "value": 1 },
    ]})
    .to_string();
    let clock = Arc::new(ManualClock::new(Duration::from_secs(1_900_000_000)));
    let (runtime, kernel) = host(&world, clock)?;
    let pid = runtime.block_on(common::start(&kernel, "plain", &input, world.work()))?;
    until(&kernel, pid, "waited", |s| {
        matches!(s, State::Blocked(BlockedOn::Event(_)))
    })?;
    // Refused, it left no effect: nothing was compacted, no snapshot was stored.
    let journal = Journal::open(&world.state.path().join("libos.db"))?;
    let calls: Vec<String> = journal
        .entries(pid)?
        .iter()
        .map(|e| e.function.clone())
        .collect();
    assert!(calls.iter().any(|f| f == "put"), "{calls:?}");
    assert!(!calls.iter().any(|f| f == "snapshot"), "{calls:?}");
    kernel.emit("go", &json!({}))?;
    let output = runtime.block_on(common::exit_of(&kernel, pid))?;
    let steps = common::results(&output);
    assert_eq!(steps[1]["err"]["kind"], json!("invalid"), "{output}");
    assert!(
        steps[1]["err"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not export libos:runtime/restorable")),
        "{output}"
    );
    assert!(steps[3].get("ok").is_some(), "{output}");
    Ok(())
}
