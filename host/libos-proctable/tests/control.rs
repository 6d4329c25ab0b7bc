//! Pausing and resuming subtrees, the message queue and the process log in the table.

mod common;

use common::open;
use libos_proctable::{
    BlockedOn, KernelError, MAX_LOG_LINES, MessageBody, ProcessTable, State, mailbox,
};

/// Creates a running process under `parent`.
fn running(table: &ProcessTable, parent: Option<u64>) -> anyhow::Result<u64> {
    let pid = table.create(common::new_process(parent))?.pid;
    table.advance(pid, &[State::Ready, State::Running])?;
    Ok(pid)
}

#[test]
fn pause_and_resume_act_on_the_live_subtree_and_remember_each_state() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let root = running(&table, None)?;
    let child = running(&table, Some(root))?;
    let grandchild = running(&table, Some(child))?;
    let done = running(&table, Some(child))?;
    table.advance(child, &[State::Blocked(BlockedOn::Child(grandchild))])?;
    table.advance(
        done,
        &[State::Exited {
            output: "{}".into(),
        }],
    )?;

    assert_eq!(table.pause_subtree(child)?, [child, grandchild]);
    assert_eq!(table.get(root)?.state, State::Running);
    assert_eq!(
        table.get(child)?.state,
        State::paused_from(State::Blocked(BlockedOn::Child(grandchild)))
    );
    // Pausing again changes nothing; the ended one stays ended.
    assert!(table.pause_subtree(child)?.is_empty());
    assert!(matches!(table.get(done)?.state, State::Exited { .. }));
    assert_eq!(table.stopped_on("1@host:9000")?.paused, [child, grandchild]);

    // While paused, the process's own changes apply underneath the pause...
    table.advance(child, &[State::Ready, State::Running])?;
    assert_eq!(table.get(child)?.state, State::paused_from(State::Running));
    // ...and an end ends it.
    table.advance(
        grandchild,
        &[State::Failed {
            reason: "trap".into(),
        }],
    )?;
    assert!(matches!(table.get(grandchild)?.state, State::Failed { .. }));

    assert_eq!(table.resume_subtree(root)?, [child]);
    assert_eq!(table.get(child)?.state, State::Running);
    assert!(table.stopped_on("1@host:9000")?.paused.is_empty());
    assert_eq!(table.pause_subtree(99), Err(KernelError::NoSuchProcess(99)));
    Ok(())
}

#[test]
fn interrupts_are_taken_first_and_each_message_once() -> anyhow::Result<()> {
    let (dir, table) = open()?;
    let pid = running(&table, None)?;
    let before = table.last_message()?;
    table.send(pid, 7, &MessageBody::Data("1".into()))?;
    table.send(pid, 8, &MessageBody::Data("2".into()))?;
    table.send(pid, 9, &MessageBody::Interrupt)?;
    assert!(table.last_message()? >= before + 3);

    // The queue is persisted: another handle takes from it.
    let other = ProcessTable::open(dir.path().join("libos.db"))?;
    let taken: Vec<(u64, MessageBody)> = std::iter::from_fn(|| other.receive(pid).ok().flatten())
        .map(|m| (m.from, m.body))
        .collect();
    assert_eq!(
        taken,
        [
            (9, MessageBody::Interrupt),
            (7, MessageBody::Data("1".into())),
            (8, MessageBody::Data("2".into())),
        ]
    );
    assert_eq!(table.receive(pid)?, None);
    Ok(())
}

#[test]
fn a_full_queue_and_an_ended_target_refuse_messages() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let pid = running(&table, None)?;
    for n in 0..mailbox::MAX_QUEUED {
        table.send(pid, 1, &MessageBody::Data(n.to_string()))?;
    }
    assert_eq!(
        table.send(pid, 1, &MessageBody::Interrupt),
        Err(KernelError::QueueFull {
            pid,
            limit: mailbox::MAX_QUEUED
        })
    );
    // Taking one makes room again.
    assert!(table.receive(pid)?.is_some());
    table.send(pid, 1, &MessageBody::Interrupt)?;

    // Ending drops the queue; an ended process takes no more.
    table.advance(pid, &[State::Killed])?;
    assert_eq!(table.receive(pid)?, None);
    assert!(matches!(
        table.send(pid, 1, &MessageBody::Data("1".into())),
        Err(KernelError::Ended { .. })
    ));
    assert_eq!(
        table.send(404, 1, &MessageBody::Interrupt),
        Err(KernelError::NoSuchProcess(404))
    );
    Ok(())
}

#[test]
fn the_log_is_read_from_a_position_and_keeps_only_the_newest_lines() -> anyhow::Result<()> {
    let (_dir, table) = open()?;
    let pid = running(&table, None)?;
    table.append_logs(pid, &[("info", "one"), ("stdout", "two")])?;
    table.append_logs(pid, &[("warn", "three")])?;
    let all: Vec<(u64, String)> = table
        .logs(pid, 0)?
        .into_iter()
        .map(|r| (r.seq, r.message))
        .collect();
    assert_eq!(
        all,
        [(1, "one".into()), (2, "two".into()), (3, "three".into())]
    );
    let after: Vec<u64> = table.logs(pid, 2)?.iter().map(|r| r.seq).collect();
    assert_eq!(after, [3]);

    let many: Vec<String> = (0..MAX_LOG_LINES).map(|n| n.to_string()).collect();
    let lines: Vec<(&str, &str)> = many.iter().map(|m| ("debug", m.as_str())).collect();
    table.append_logs(pid, &lines)?;
    let kept = table.logs(pid, 0)?;
    assert_eq!(kept.len() as u64, MAX_LOG_LINES);
    assert_eq!(kept.first().map(|r| r.seq), Some(4));
    assert_eq!(kept.last().map(|r| r.seq), Some(MAX_LOG_LINES + 3));
    Ok(())
}

#[test]
fn events_keep_their_order_and_a_topic_keeps_only_its_newest() -> anyhow::Result<()> {
    use libos_proctable::events::KEPT_PER_TOPIC;
    let (_dir, table) = open()?;
    assert_eq!(table.last_event()?, 0);
    let first = table.emit("a", "{\"n\":0}", 7)?;
    let other = table.emit("b", "{}", 0)?;
    assert!(other > first);
    // Past KEPT_PER_TOPIC, the topic is cut back to it within TRIM_EVERY emits.
    let extra = libos_proctable::events::TRIM_EVERY as usize;
    for n in 1..=KEPT_PER_TOPIC + extra {
        table.emit("a", &format!("{{\"n\":{n}}}"), 7)?;
    }
    let kept = table.events(Some("a"), 0, usize::MAX)?;
    assert!(
        (KEPT_PER_TOPIC..KEPT_PER_TOPIC + extra).contains(&kept.len()),
        "{} kept",
        kept.len()
    );
    assert_ne!(
        kept[0].payload, "{\"n\":0}",
        "the oldest of `a` were dropped"
    );
    assert!(kept.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(kept[0].source, 7);
    // Other topics keep theirs; ids go on from the newest ever, also after drops.
    assert_eq!(table.events(Some("b"), 0, 10)?.len(), 1);
    let last = table.last_event()?;
    assert_eq!(last, kept.last().map(|e| e.id).unwrap_or(0));
    assert_eq!(table.events(None, last - 1, 10)?.len(), 1);
    assert!(table.emit("a", "{}", 0)? > last);
    Ok(())
}

#[test]
fn exit_notices_never_push_out_an_event_still_being_waited_on() -> anyhow::Result<()> {
    use libos_proctable::events::{EXIT_TOPIC, KEPT, KEPT_PER_TOPIC};
    let (_dir, table) = open()?;
    let go = table.emit("go", "{}", 0)?;
    // More exit notices than the whole table keeps of other events.
    for pid in 0..(KEPT + 64) {
        table.emit(EXIT_TOPIC, &format!("{{\"pid\":{pid}}}"), 0)?;
    }
    let found = table.events(Some("go"), 0, 10)?;
    assert_eq!(found.len(), 1, "the event survives the exits");
    assert_eq!(found[0].id, go);
    // The exit notices themselves are bounded by the per-topic rule.
    let exits = table.events(Some(EXIT_TOPIC), 0, usize::MAX)?;
    assert!(
        exits.len() < KEPT_PER_TOPIC + libos_proctable::events::TRIM_EVERY as usize,
        "{} exit notices kept",
        exits.len()
    );
    // Other events still obey the overall bound.
    for n in 0..(KEPT + 32) {
        table.emit(&format!("t{}", n % 4096), "{}", 1)?;
    }
    let others = table
        .events(None, 0, usize::MAX)?
        .into_iter()
        .filter(|e| e.topic != EXIT_TOPIC)
        .count();
    assert!(others <= KEPT + 16, "{others} kept");
    assert!(
        table.events(Some("go"), 0, 10)?.is_empty(),
        "outrun by KEPT newer events"
    );
    Ok(())
}
