//! Starts and ends recorded behind the caller: seen at once through the same handle, by
//! other handles once committed, in order with every other change, with unique pids across
//! handles, and never lost when a handle closes.

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

mod common;

use common::{new_process as new, open};
use libos_proctable::{KernelError, ProcessFilter, ProcessTable, State, Usage};

fn exited() -> State {
    State::Exited {
        output: "{}".into(),
    }
}

/// Ends `pid` behind the caller and returns what its `done` was told.
fn end(table: &ProcessTable, pid: u64) -> anyhow::Result<Result<u64, KernelError>> {
    let (tx, rx) = mpsc::channel();
    table.end_behind(
        pid,
        exited(),
        ("process.exit".into(), format!("{{\"pid\":{pid}}}")),
        Some(Usage::default()),
        Box::new(move |outcome| {
            let _ = tx.send(outcome);
        }),
    );
    table.flush()?;
    Ok(rx.recv_timeout(Duration::from_secs(5))?)
}

#[test]
fn a_start_is_seen_at_once_by_its_handle_and_by_others_once_committed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let table = ProcessTable::open(&path)?;
    let other = ProcessTable::open(&path)?;
    let root = table.start_behind(new(None))?;
    let child = table.start_behind(new(Some(root)))?;
    let record = table.get(child)?;
    assert_eq!(
        (record.state, record.parent, record.root),
        (State::Running, Some(root), root)
    );
    assert_eq!(
        table.transitions(child)?.len(),
        2,
        "created -> ready -> running"
    );
    // The writer thread commits it without anyone asking.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while other.get(child).is_err() {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(other.get(child)?.state, State::Running);
    Ok(())
}

#[test]
fn an_end_reports_its_event_and_a_killed_process_keeps_its_kill() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let pid = table.start_behind(new(None))?;
    let id = end(&table, pid)?.map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(table.get(pid)?.state, exited());
    let events = table.events(Some("process.exit"), 0, 10)?;
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    assert!(
        table.usage()?.contains_key(&pid),
        "usage recorded with the end"
    );

    // Killed first: the end is refused and leaves nothing (no state change, no event).
    let victim = table.start_behind(new(None))?;
    assert_eq!(table.kill_subtree(victim)?, [victim]);
    let refused = end(&table, victim)?;
    assert!(
        matches!(refused, Err(KernelError::Transition { .. })),
        "{refused:?}"
    );
    assert_eq!(table.get(victim)?.state, State::Killed);
    assert_eq!(table.events(Some("process.exit"), 0, 10)?.len(), 1);
    Ok(())
}

#[test]
fn queued_starts_come_before_later_changes_of_the_same_handle() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let root = table.start_behind(new(None))?;
    let a = table.start_behind(new(Some(root)))?;
    let b = table.start_behind(new(Some(a)))?;
    // A kill made right after (no flush in between) finds the whole queued tree.
    assert_eq!(table.kill_subtree(root)?, [root, a, b]);
    assert!(table.list(ProcessFilter::Live)?.is_empty());
    Ok(())
}

#[test]
fn a_child_queued_under_a_parent_killed_elsewhere_is_recorded_killed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let table = ProcessTable::open(&path)?;
    let parent = table.start_behind(new(None))?;
    table.flush()?;
    // Another terminal kills the parent; this host has not polled yet and spawns under it.
    ProcessTable::open(&path)?.kill_subtree(parent)?;
    let child = table.start_behind(new(Some(parent)))?;
    let record = table.get(child)?;
    assert_eq!((record.state, record.parent), (State::Killed, Some(parent)));
    let steps: Vec<State> = table
        .transitions(child)?
        .into_iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(steps, [State::Ready, State::Running, State::Killed]);

    // A start under a parent that does not exist is not recorded at all.
    let orphan = table.start_behind(new(Some(999)))?;
    assert!(matches!(
        table.get(orphan),
        Err(KernelError::NoSuchProcess(p)) if p == orphan
    ));
    Ok(())
}

#[test]
fn pids_stay_unique_across_handles_and_dense_for_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let first = ProcessTable::open(&path)?;
    let second = ProcessTable::open(&path)?;
    let mut seen = HashSet::new();
    for _ in 0..300 {
        assert!(seen.insert(first.start_behind(new(None))?));
        assert!(seen.insert(second.start_behind(new(None))?));
        assert!(seen.insert(second.create(new(None))?.pid));
    }
    drop(first);
    drop(second);
    let table = ProcessTable::open(&path)?;
    assert_eq!(
        table.list(ProcessFilter::All)?.len(),
        seen.len(),
        "nothing lost"
    );
    drop(table);

    // One handle at a time: pids follow each other across handles.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let a = ProcessTable::open(&path)?.start_behind(new(None))?;
    let b = ProcessTable::open(&path)?.start_behind(new(None))?;
    let c = ProcessTable::open(&path)?.create(new(None))?.pid;
    assert_eq!((a, b, c), (1, 2, 3));
    Ok(())
}

#[test]
fn a_process_own_changes_queue_in_order_and_stop_at_its_kill() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let pid = table.start_behind(new(None))?;
    let blocked = State::Blocked(libos_proctable::BlockedOn::Event("park".into()));
    table.advance_behind(pid, vec![blocked.clone()]);
    assert_eq!(
        table.get(pid)?.state,
        blocked,
        "seen at once by the same handle"
    );
    table.advance_behind(pid, vec![State::Ready, State::Running]);
    assert_eq!(table.kill_subtree(pid)?, [pid], "the wake-up came first");
    // A change queued after the kill is refused and changes nothing.
    table.advance_behind(pid, vec![blocked]);
    table.flush()?;
    let steps: Vec<State> = table.transitions(pid)?.into_iter().map(|t| t.to).collect();
    assert_eq!(
        steps,
        [
            State::Ready,
            State::Running,
            State::Blocked(libos_proctable::BlockedOn::Event("park".into())),
            State::Ready,
            State::Running,
            State::Killed
        ]
    );
    Ok(())
}

/// What the table holds about a process, without times: its row's state, parent and root,
/// its transitions (seq, from, to) and the usage recorded for it.
type Recorded = (
    State,
    Option<u64>,
    u64,
    Vec<(u64, State, State)>,
    Option<Usage>,
);

/// [`Recorded`] of `pid`.
fn recorded(table: &ProcessTable, pid: u64) -> anyhow::Result<Recorded> {
    let record = table.get(pid)?;
    let steps = table
        .transitions(pid)?
        .into_iter()
        .map(|t| (t.seq, t.from, t.to))
        .collect();
    Ok((
        record.state,
        record.parent,
        record.root,
        steps,
        table.usage()?.get(&pid).copied(),
    ))
}

#[test]
fn a_lifetime_queued_in_one_batch_is_recorded_as_change_by_change() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let blocked = State::Blocked(libos_proctable::BlockedOn::Event("park".into()));
    let path = [blocked, State::Ready, State::Running];
    // Recorded change by change, each committed on its own.
    let one_by_one = table.create_running(new(None))?.pid;
    table.advance(one_by_one, &path)?;
    assert!(end(&table, one_by_one)?.is_ok());
    // The same lifetime queued at once: start, its own changes and end in one batch.
    let (tx, rx) = mpsc::channel();
    let queued = table.start_behind(new(None))?;
    table.advance_behind(queued, path[..1].to_vec());
    table.advance_behind(queued, path[1..].to_vec());
    table.end_behind(
        queued,
        exited(),
        ("process.exit".into(), format!("{{\"pid\":{queued}}}")),
        Some(Usage::default()),
        Box::new(move |outcome| {
            let _ = tx.send(outcome);
        }),
    );
    table.flush()?;
    let id = rx
        .recv_timeout(Duration::from_secs(5))?
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let (a, b) = (recorded(&table, one_by_one)?, recorded(&table, queued)?);
    assert_eq!((a.0, a.1, a.3, a.4), (b.0, b.1, b.3, b.4));
    assert_eq!((a.2, b.2), (one_by_one, queued), "each its own root");
    let exits = table.events(Some("process.exit"), 0, 10)?;
    assert_eq!(exits.last().map(|e| e.id), Some(id), "done told the event");
    assert_eq!(
        exits.last().map(|e| e.payload.clone()),
        Some(format!("{{\"pid\":{queued}}}"))
    );
    Ok(())
}

#[test]
fn a_parent_and_child_queued_in_one_batch_both_record_their_lifetimes() -> anyhow::Result<()> {
    let (dir, table) = open()?;
    let other = ProcessTable::open(dir.path().join("libos.db"))?;
    let parent = table.start_behind(new(None))?;
    let child = table.start_behind(new(Some(parent)))?;
    // The child ends first (its parent waited for it), then the parent.
    let (tx, rx) = mpsc::channel();
    for pid in [child, parent] {
        let tx = tx.clone();
        table.end_behind(
            pid,
            exited(),
            ("process.exit".into(), format!("{{\"pid\":{pid}}}")),
            None,
            Box::new(move |outcome| {
                let _ = tx.send((pid, outcome));
            }),
        );
    }
    table.flush()?;
    for _ in 0..2 {
        let (pid, outcome) = rx.recv_timeout(Duration::from_secs(5))?;
        assert!(outcome.is_ok(), "{pid}: {outcome:?}");
    }
    // Read through another handle: what was committed, not what this one remembers.
    let c = other.get(child)?;
    assert_eq!(
        (c.state, c.parent, c.root),
        (exited(), Some(parent), parent)
    );
    assert_eq!(other.get(parent)?.state, exited());
    let pids: Vec<String> = other
        .events(Some("process.exit"), 0, 10)?
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(
        pids,
        [
            format!("{{\"pid\":{child}}}"),
            format!("{{\"pid\":{parent}}}")
        ],
        "exit events in the order the ends were queued"
    );
    Ok(())
}

#[test]
fn a_refused_change_in_a_batch_leaves_the_others_recorded() -> anyhow::Result<()> {
    let (dir, table) = open()?;
    let other = ProcessTable::open(dir.path().join("libos.db"))?;
    let victim = table.start_behind(new(None))?;
    table.flush()?;
    // Killed from another handle: this one's queued change for it will be refused.
    assert_eq!(other.kill_subtree(victim)?, [victim]);
    let blocked = State::Blocked(libos_proctable::BlockedOn::Sleep);
    let before = table.start_behind(new(None))?;
    table.advance_behind(victim, vec![blocked]);
    let after = table.start_behind(new(None))?;
    assert!(end(&table, after)?.is_ok());
    assert_eq!(
        other.get(victim)?.state,
        State::Killed,
        "refused, unchanged"
    );
    assert_eq!(other.get(before)?.state, State::Running);
    assert_eq!(other.get(after)?.state, exited());
    assert_eq!(
        other.transitions(victim)?.last().map(|t| t.to.clone()),
        Some(State::Killed)
    );
    Ok(())
}

#[test]
fn a_flush_returns_only_once_what_the_writer_already_took_is_committed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let table = ProcessTable::open(&path)?;
    let other = ProcessTable::open(&path)?;
    // The writer takes the queue a couple of milliseconds after a change is queued; flushes
    // at varied moments around that must each leave the start visible to another handle.
    for round in 0..150u64 {
        let pid = table.start_behind(new(None))?;
        std::thread::sleep(Duration::from_micros((round % 15) * 200));
        table.flush()?;
        assert!(
            other.get(pid).is_ok(),
            "round {round}: process {pid} flushed but not committed"
        );
    }
    Ok(())
}
