//! When a batch cannot be committed, everyone waiting on it is told, and the log says it is
//! failing until a later batch commits: the contract effects rely on to fail closed.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{db_path, raw, record};
use libos_audit::{AuditLog, AuditSink, verify};

/// Asks `log` to call back once everything queued is stored; returns where the outcome lands.
fn store_later(log: &AuditLog) -> mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = mpsc::channel();
    log.store_then(Box::new(move |outcome| {
        let _ = tx.send(outcome);
    }));
    rx
}

#[test]
fn a_failed_batch_fails_every_waiter_and_the_log_fails_until_one_commits() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    log.append(record(0));
    log.store()
        .map_err(|e| anyhow::anyhow!("first store: {e}"))?;
    assert_eq!(log.failing(), None);

    // The table moves away under the writer: its next batch cannot be inserted.
    raw(&path)?.execute_batch("ALTER TABLE audit RENAME TO audit_away")?;
    log.append(record(1));
    let waiters: Vec<_> = (0..4).map(|_| store_later(&log)).collect();
    for waiter in waiters {
        let outcome = waiter.recv_timeout(Duration::from_secs(10))?;
        let why = outcome.expect_err("a waiter of the failed batch is told it failed");
        assert!(why.contains("could not be written"), "{why}");
    }
    let failing = log.failing().expect("the log says it is failing");
    assert!(failing.contains("audit"), "{failing}");
    // Asking again stays failed while nothing commits (the records keep failing).
    log.append(record(2));
    assert!(
        store_later(&log)
            .recv_timeout(Duration::from_secs(10))?
            .is_err()
    );
    assert!(log.failing().is_some());

    // The table is back: the next batch commits, and the log is no longer failing.
    raw(&path)?.execute_batch("ALTER TABLE audit_away RENAME TO audit")?;
    log.append(record(3));
    store_later(&log)
        .recv_timeout(Duration::from_secs(10))?
        .map_err(|e| anyhow::anyhow!("store after recovery: {e}"))?;
    assert_eq!(log.failing(), None);
    drop(log);

    // Only what was committed is in the log, and it verifies.
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 2);
    Ok(())
}
