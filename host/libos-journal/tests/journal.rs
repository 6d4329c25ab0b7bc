//! The journal: entries durable in order, group commit across processes, refusals typed.

use std::sync::Arc;

use libos_journal::{EffectState, Entry, Journal, JournalError};

fn entry(pid: u64, seq: u64, result: &str) -> Entry {
    Entry {
        pid,
        seq,
        interface: "libos:runtime/fs".into(),
        function: "read".into(),
        args_digest: [seq as u8; 32],
        intent: Vec::new(),
        result: Some(result.as_bytes().to_vec()),
        state: EffectState::Committed,
        grant: None,
    }
}

#[test]
fn entries_come_back_in_order_after_the_journal_is_reopened() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("libos.db");
    {
        let journal = Journal::open(&db)?;
        for seq in 1..=3 {
            journal.append(entry(7, seq, &format!("r{seq}"))).wait()?;
        }
    }
    let journal = Journal::open(&db)?;
    let entries = journal.entries(7)?;
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2], entry(7, 3, "r3"));
    // Numbering goes on after a reopen, from what is stored.
    journal.append(entry(7, 4, "r4")).wait()?;
    assert_eq!(journal.entries(7)?.len(), 4);
    assert!(journal.entries(8)?.is_empty());
    Ok(())
}

#[test]
fn a_gap_or_a_repeat_is_refused_and_stores_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(&dir.path().join("libos.db"))?;
    journal.append(entry(1, 1, "a")).wait()?;
    assert_eq!(
        journal.append(entry(1, 1, "again")).wait(),
        Err(JournalError::OutOfOrder {
            pid: 1,
            seq: 1,
            expected: 2
        })
    );
    assert_eq!(
        journal.append(entry(1, 5, "gap")).wait(),
        Err(JournalError::OutOfOrder {
            pid: 1,
            seq: 5,
            expected: 2
        })
    );
    assert!(matches!(
        journal.append(entry(u64::MAX, 1, "x")).wait(),
        Err(JournalError::OutOfRange(_))
    ));
    assert_eq!(journal.entries(1)?, vec![entry(1, 1, "a")]);
    Ok(())
}

#[test]
fn concurrent_processes_all_land_in_order() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let journal = Arc::new(Journal::open(&dir.path().join("libos.db"))?);
    std::thread::scope(|s| {
        for pid in 1..=16u64 {
            let journal = Arc::clone(&journal);
            s.spawn(move || {
                for seq in 1..=50 {
                    journal
                        .append(entry(pid, seq, &format!("{pid}/{seq}")))
                        .wait()
                        .expect("durable");
                }
            });
        }
    });
    for pid in 1..=16u64 {
        let entries = journal.entries(pid)?;
        assert_eq!(entries.len(), 50);
        assert!(
            entries
                .iter()
                .enumerate()
                .all(|(i, e)| e.seq == i as u64 + 1)
        );
        assert_eq!(entries[49].result, Some(format!("{pid}/50").into_bytes()));
    }
    Ok(())
}

#[test]
fn an_effect_is_prepared_then_settled_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(&dir.path().join("libos.db"))?;
    let mut intent = entry(3, 1, "");
    intent.result = None;
    intent.state = EffectState::Prepared;
    intent.intent = b"wake at 10".to_vec();
    journal.append(intent).wait()?;
    assert_eq!(journal.in_states(&[EffectState::Prepared])?.len(), 1);
    // Only a prepared entry may be committed, and only once.
    journal
        .settle(
            (3, 1),
            &[EffectState::Prepared],
            EffectState::Committed,
            Some(b"ok".to_vec()),
        )
        .wait()?;
    assert!(matches!(
        journal
            .settle(
                (3, 1),
                &[EffectState::Prepared],
                EffectState::Committed,
                None
            )
            .wait(),
        Err(JournalError::NotInState { seq: 1, .. })
    ));
    assert!(matches!(
        journal
            .settle((3, 9), &[EffectState::Prepared], EffectState::Unknown, None)
            .wait(),
        Err(JournalError::NotInState { seq: 9, .. })
    ));
    let stored = journal.entries(3)?;
    assert_eq!(stored[0].result.as_deref(), Some(&b"ok"[..]));
    assert_eq!(stored[0].intent, b"wake at 10");
    assert_eq!(stored[0].state, EffectState::Committed);
    assert!(journal.in_states(&[EffectState::Prepared])?.is_empty());
    Ok(())
}

#[test]
fn removing_an_ended_process_keeps_what_a_person_settles() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(&dir.path().join("libos.db"))?;
    journal.append(entry(4, 1, "read")).wait()?;
    let mut doubt = entry(4, 2, "");
    doubt.result = None;
    doubt.state = EffectState::Unknown;
    journal.append(doubt).wait()?;
    journal.remove(4).wait()?;
    let left = journal.entries(4)?;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, EffectState::Unknown);
    assert_eq!(journal.in_states(&[])?.len(), 1);
    Ok(())
}
