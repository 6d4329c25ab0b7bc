//! The process table: creation, transitions, tree queries, kill_subtree, persistence.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::open;

use libos_proctable::{
    BlockedOn, KernelError, NewProcess, ProcessFilter, ProcessRecord, ProcessTable, State,
};

fn new(parent: Option<u64>) -> NewProcess {
    NewProcess {
        parent,
        image: "agent:1.0".into(),
        image_digest: "sha256:abc".into(),
        cwd: "/home/agent".into(),
        capabilities: vec!["fs.read".into(), "net".into()],
        host: "1@host:9000".into(),
        policy_chain: Vec::new(),
        resume: None,
    }
}

fn pids(records: &[ProcessRecord]) -> Vec<u64> {
    records.iter().map(|r| r.pid).collect()
}

fn run(table: &ProcessTable, pid: u64) -> anyhow::Result<()> {
    table.transition(pid, State::Ready)?;
    table.transition(pid, State::Running)?;
    Ok(())
}

#[test]
fn create_starts_in_created_with_fields() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let root = table.create(new(None))?;
    assert_eq!(root.state, State::Created);
    assert_eq!(root.parent, None);
    assert_eq!(root.root, root.pid);
    assert_eq!(root.image, "agent:1.0");
    assert_eq!(root.capabilities, ["fs.read", "net"]);
    let child = table.create(new(Some(root.pid)))?;
    assert_eq!(child.parent, Some(root.pid));
    assert_eq!(child.root, root.pid);
    assert_eq!(table.get(child.pid)?, child);
    let json = serde_json::to_value(&child)?;
    assert_eq!(json["state"], "created");
    Ok(())
}

#[test]
fn create_with_missing_or_ended_parent_is_refused() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    assert_eq!(
        table.create(new(Some(42))),
        Err(KernelError::NoSuchProcess(42))
    );
    assert_eq!(
        table.create(new(Some(u64::MAX))),
        Err(KernelError::NoSuchProcess(u64::MAX))
    );
    let parent = table.create(new(None))?;
    table.transition(parent.pid, State::Killed)?;
    assert_eq!(
        table.create(new(Some(parent.pid))),
        Err(KernelError::ParentEnded {
            parent: parent.pid,
            state: "killed".into()
        })
    );
    // A paused parent is live and may get children.
    let paused = table.create(new(None))?;
    table.transition(paused.pid, State::paused_from(State::Created))?;
    table.create(new(Some(paused.pid)))?;
    assert_eq!(table.list(ProcessFilter::All)?.len(), 3);
    Ok(())
}

#[test]
fn transitions_are_validated_and_recorded_in_order() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let pid = table.create(new(None))?.pid;
    let path = [
        State::Ready,
        State::Running,
        State::Blocked(BlockedOn::Message),
        State::paused_from(State::Blocked(BlockedOn::Message)),
        State::Blocked(BlockedOn::Message),
        State::Ready,
        State::Running,
        State::Exited {
            output: "bye".into(),
        },
    ];
    for state in &path {
        let record = table.transition(pid, state.clone())?;
        assert_eq!(&record.state, state);
        assert!(record.updated_ns >= record.created_ns);
    }
    let log = table.transitions(pid)?;
    assert_eq!(log.len(), path.len());
    let mut from = State::Created;
    for (i, (entry, to)) in log.iter().zip(&path).enumerate() {
        assert_eq!(entry.pid, pid);
        assert_eq!(entry.seq, i as u64 + 1);
        assert_eq!(entry.from, from);
        assert_eq!(&entry.to, to);
        from = to.clone();
    }
    // Nothing leaves an ended state, and a refusal records nothing.
    let err = table.transition(pid, State::Killed);
    assert!(matches!(err, Err(KernelError::Transition { pid: p, .. }) if p == pid));
    assert_eq!(table.transitions(pid)?.len(), path.len());
    assert_eq!(
        table.transition(999, State::Ready),
        Err(KernelError::NoSuchProcess(999))
    );
    Ok(())
}

#[test]
fn pause_resume_returns_to_paused_from_state_once() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let pid = table.create(new(None))?.pid;
    run(&table, pid)?;
    table.transition(pid, State::paused_from(State::Running))?;
    assert!(table.transition(pid, State::Ready).is_err());
    assert_eq!(table.transition(pid, State::Running)?.state, State::Running);
    // Double resume: the process is no longer paused.
    let err = table.transition(pid, State::Running);
    match err {
        Err(KernelError::Transition { source, .. }) => {
            assert_eq!(source.from, State::Running);
            assert_eq!(source.to, State::Running);
        }
        other => anyhow::bail!("expected a transition error, got {other:?}"),
    }
    Ok(())
}

/// root -> (a -> (a1, a2), b); another tree alongside.
struct Tree {
    root: u64,
    a: u64,
    a1: u64,
    a2: u64,
    b: u64,
    other: u64,
}

fn tree(table: &ProcessTable) -> anyhow::Result<Tree> {
    let root = table.create(new(None))?.pid;
    let a = table.create(new(Some(root)))?.pid;
    let b = table.create(new(Some(root)))?.pid;
    let a1 = table.create(new(Some(a)))?.pid;
    let other = table.create(new(None))?.pid;
    let a2 = table.create(new(Some(a)))?.pid;
    Ok(Tree {
        root,
        a,
        a1,
        a2,
        b,
        other,
    })
}

#[test]
fn tree_queries() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let t = tree(&table)?;
    assert_eq!(pids(&table.children(t.root)?), [t.a, t.b]);
    assert_eq!(pids(&table.children(t.a)?), [t.a1, t.a2]);
    assert!(table.children(t.a1)?.is_empty());
    assert_eq!(pids(&table.descendants(t.root)?), [t.a, t.a1, t.a2, t.b]);
    assert_eq!(pids(&table.descendants(t.a)?), [t.a1, t.a2]);
    assert!(table.descendants(t.b)?.is_empty());
    assert_eq!(pids(&table.ancestors(t.a2)?), [t.a, t.root]);
    assert_eq!(pids(&table.ancestors(t.b)?), [t.root]);
    assert!(table.ancestors(t.root)?.is_empty());
    assert_eq!(table.get(t.a2)?.root, t.root);
    assert_eq!(table.get(t.other)?.root, t.other);
    for missing in [0, 77, u64::MAX] {
        assert_eq!(
            table.descendants(missing),
            Err(KernelError::NoSuchProcess(missing))
        );
        assert_eq!(
            table.ancestors(missing),
            Err(KernelError::NoSuchProcess(missing))
        );
        assert_eq!(
            table.children(missing),
            Err(KernelError::NoSuchProcess(missing))
        );
        assert_eq!(table.get(missing), Err(KernelError::NoSuchProcess(missing)));
    }
    Ok(())
}

#[test]
fn kill_subtree_kills_exactly_the_live_subtree() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let t = tree(&table)?;
    run(&table, t.a1)?;
    table.transition(
        t.a1,
        State::Exited {
            output: "ok".into(),
        },
    )?;
    run(&table, t.a)?;
    table.transition(t.a, State::Blocked(BlockedOn::Child(t.a2)))?;
    table.transition(t.a2, State::paused_from(State::Created))?;

    assert_eq!(table.kill_subtree(t.a)?, [t.a, t.a2]);
    assert_eq!(table.get(t.a)?.state, State::Killed);
    assert_eq!(table.get(t.a2)?.state, State::Killed);
    // Already ended: untouched, no new transition.
    assert_eq!(
        table.get(t.a1)?.state,
        State::Exited {
            output: "ok".into()
        }
    );
    assert_eq!(table.transitions(t.a1)?.len(), 3);
    // Parent, sibling and the other tree are left alone.
    assert_eq!(table.get(t.root)?.state, State::Created);
    assert_eq!(table.get(t.b)?.state, State::Created);
    assert_eq!(table.get(t.other)?.state, State::Created);
    let last = table.transitions(t.a)?;
    assert_eq!(
        last.last().map(|e| (&e.from, &e.to)),
        Some((&State::Blocked(BlockedOn::Child(t.a2)), &State::Killed))
    );
    let last = table.transitions(t.a2)?;
    assert_eq!(
        last.last().map(|e| (&e.from, &e.to)),
        Some((&State::paused_from(State::Created), &State::Killed))
    );
    // Nothing left to kill.
    assert!(table.kill_subtree(t.a)?.is_empty());
    assert_eq!(table.kill_subtree(t.root)?, [t.root, t.b]);
    assert_eq!(pids(&table.list(ProcessFilter::Live)?), [t.other]);
    assert_eq!(table.list(ProcessFilter::All)?.len(), 6);
    assert_eq!(
        table.kill_subtree(500),
        Err(KernelError::NoSuchProcess(500))
    );
    Ok(())
}

#[test]
fn owned_by_lists_live_processes_of_one_host() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let mine = table.create(new(None))?.pid;
    let dead = table.create(new(None))?.pid;
    table.transition(dead, State::Killed)?;
    let theirs = table.create(NewProcess {
        host: "2@other:9000".into(),
        policy_chain: Vec::new(),
        resume: None,
        ..new(None)
    })?;
    assert_eq!(pids(&table.owned_by("1@host:9000")?), [mine]);
    assert_eq!(pids(&table.owned_by("2@other:9000")?), [theirs.pid]);
    assert!(table.owned_by("nobody")?.is_empty());
    Ok(())
}

#[test]
fn pids_are_never_reused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let table = ProcessTable::open(&path)?;
    let first = table.create(new(None))?.pid;
    let second = table.create(new(None))?.pid;
    let raw = rusqlite::Connection::open(&path)?;
    raw.execute("DELETE FROM processes WHERE pid = ?1", [second as i64])?;
    let third = table.create(new(None))?.pid;
    assert!(first < second && second < third);
    raw.execute("DELETE FROM processes", [])?;
    let fourth = table.create(new(None))?.pid;
    assert!(fourth > third);
    Ok(())
}

#[test]
fn racing_transitions_from_two_handles_exactly_one_wins() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let setup = ProcessTable::open(&path)?;
    for _ in 0..10 {
        let pid = setup.create(new(None))?.pid;
        run(&setup, pid)?;
        let barrier = Arc::new(Barrier::new(2));
        let targets = [
            State::Exited {
                output: "done".into(),
            },
            State::Killed,
        ];
        let handles: Vec<_> = targets
            .into_iter()
            .map(|to| {
                let path = path.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || -> anyhow::Result<_> {
                    let table = ProcessTable::open(&path)?;
                    barrier.wait();
                    Ok(table.transition(pid, to))
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(outcome) => outcomes.push(outcome?),
                Err(_) => anyhow::bail!("racing thread panicked"),
            }
        }
        let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        let winner = winners[0].state.clone();
        let loser = outcomes.iter().find_map(|o| o.as_ref().err());
        match loser {
            Some(KernelError::Transition { pid: p, source }) => {
                assert_eq!(*p, pid);
                assert_eq!(source.from, winner);
            }
            other => anyhow::bail!("expected a transition error, got {other:?}"),
        }
        assert_eq!(setup.get(pid)?.state, winner);
        assert_eq!(setup.transitions(pid)?.len(), 3);
    }
    Ok(())
}

#[test]
fn hostile_strings_are_stored_literally_and_survive_reopen() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let hostile = NewProcess {
        parent: None,
        image: "x'); DROP TABLE processes; --:1".into(),
        image_digest: "\"quoted\" \\ back\\slash".into(),
        cwd: "/tmp/\u{0}nul\n\r\t\u{1b}[31m/ünï/🦀".into(),
        capabilities: vec![
            "' OR 1=1 --".into(),
            "\"]}".into(),
            String::new(),
            "\u{7f}\u{0}".into(),
        ],
        host: "1@h'\"ost:1; DELETE FROM processes".into(),
        policy_chain: vec!["x'); DROP TABLE process_policy_chains; --".into()],
        resume: None,
    };
    let (created, log) = {
        let table = ProcessTable::open(&path)?;
        let created = table.create(hostile.clone())?;
        let child = table.create(new(Some(created.pid)))?;
        run(&table, child.pid)?;
        table.transition(
            child.pid,
            State::Failed {
                reason: "'); DROP TABLE process_transitions; --\u{0}".into(),
            },
        )?;
        assert_eq!(created.image, hostile.image);
        assert_eq!(created.image_digest, hostile.image_digest);
        assert_eq!(created.cwd, hostile.cwd);
        assert_eq!(created.capabilities, hostile.capabilities);
        assert_eq!(created.host, hostile.host);
        assert_eq!(pids(&table.owned_by(&hostile.host)?), [created.pid]);
        assert_eq!(
            table.policy_chain(created.pid)?,
            Some(hostile.policy_chain.clone())
        );
        assert_eq!(table.policy_chain(child.pid)?, None, "none recorded for it");
        (created, table.transitions(child.pid)?)
    };
    let reopened = ProcessTable::open(&path)?;
    assert_eq!(reopened.get(created.pid)?, created);
    let all = reopened.list(ProcessFilter::All)?;
    assert_eq!(all.len(), 2);
    assert_eq!(reopened.transitions(all[1].pid)?, log);
    assert_eq!(pids(&reopened.descendants(created.pid)?), [all[1].pid]);
    Ok(())
}

#[test]
fn table_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ProcessTable>();
}

#[test]
fn transitions_to_applies_a_path_in_one_go_or_not_at_all() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let p = table.create(new(None))?.pid;
    let record = table.transitions_to(p, &[State::Ready, State::Running])?;
    assert_eq!(record.state, State::Running);
    let recorded: Vec<State> = table.transitions(p)?.into_iter().map(|t| t.to).collect();
    assert_eq!(recorded, [State::Ready, State::Running]);

    // Running -> Blocked is allowed, Blocked -> Running is not: nothing of the path is kept.
    let blocked = State::Blocked(BlockedOn::Message);
    let err = table.transitions_to(p, &[blocked, State::Running]);
    assert!(
        matches!(err, Err(KernelError::Transition { .. })),
        "{err:?}"
    );
    assert_eq!(table.get(p)?.state, State::Running);
    assert_eq!(table.transitions(p)?.len(), 2);

    assert_eq!(table.transitions_to(p, &[])?.state, State::Running);
    assert!(matches!(
        table.transitions_to(999, &[State::Ready]),
        Err(KernelError::NoSuchProcess(999))
    ));
    Ok(())
}

#[test]
fn create_running_records_every_step_and_respects_the_parent() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let root = table.create_running(new(None))?;
    assert_eq!(root.state, State::Running);
    assert_eq!(root.root, root.pid);
    let steps: Vec<(u64, State, State)> = table
        .transitions(root.pid)?
        .into_iter()
        .map(|t| (t.seq, t.from, t.to))
        .collect();
    assert_eq!(
        steps,
        [
            (1, State::Created, State::Ready),
            (2, State::Ready, State::Running)
        ]
    );
    // Its next change continues the numbering.
    table.advance(
        root.pid,
        &[State::Exited {
            output: "{}".into(),
        }],
    )?;
    assert_eq!(table.transitions(root.pid)?.len(), 3);
    let child = table.create_running(new(Some(root.pid)));
    assert!(
        matches!(child, Err(KernelError::ParentEnded { .. })),
        "{child:?}"
    );
    assert_eq!(
        table.list(ProcessFilter::All)?.len(),
        1,
        "nothing was created"
    );
    Ok(())
}

#[test]
fn opening_drops_the_state_index_of_earlier_versions_and_keeps_the_rows() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("libos.db");
    let pid = ProcessTable::open(&path)?.create(new(None))?.pid;
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch("CREATE INDEX processes_by_state ON processes (state_name);")?;
    }
    let table = ProcessTable::open(&path)?;
    let conn = rusqlite::Connection::open(&path)?;
    let left: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = 'processes_by_state'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(left, 0);
    assert_eq!(table.get(pid)?.state, State::Created);
    assert_eq!(pids(&table.list(ProcessFilter::Live)?), [pid]);
    Ok(())
}
