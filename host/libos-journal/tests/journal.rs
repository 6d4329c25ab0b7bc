//! The journal: entries durable in order, group commit across processes, refusals typed.

use std::sync::Arc;

use libos_journal::{Entry, Journal, JournalError};

fn entry(pid: u64, seq: u64, result: &str) -> Entry {
    Entry {
        pid,
        seq,
        interface: "libos:runtime/fs".into(),
        function: "read".into(),
        args_digest: [seq as u8; 32],
        result: result.as_bytes().to_vec(),
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
        assert_eq!(entries[49].result, format!("{pid}/50").into_bytes());
    }
    Ok(())
}
