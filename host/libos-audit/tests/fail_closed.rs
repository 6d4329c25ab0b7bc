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
        // Told by the round that failed the record, or by a later one that wrote nothing
        // while the log was failing.
        assert!(
            why.contains("could not be written") || why.contains("not being written"),
            "{why}"
        );
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

#[test]
fn a_log_with_a_destroyed_page_fails_once_opened() -> anyhow::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    common::write_log(&path, 20_000)?;
    raw(&path)?.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    // A page in the middle of the file (audit rows, far from the newest) overwritten.
    let pages = std::fs::metadata(&path)?.len() / 4096;
    assert!(pages > 100, "{pages} pages");
    let mut file = std::fs::OpenOptions::new().write(true).open(&path)?;
    file.seek(SeekFrom::Start(pages / 2 * 4096))?;
    file.write_all(&[0xab; 4096])?;
    file.sync_all()?;
    drop(file);

    let log = AuditLog::open(&path)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let why = loop {
        if let Some(why) = log.failing() {
            break why;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the damage went unnoticed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(why.contains("damaged"), "{why}");
    // It stays failing though appends at the tail still commit.
    log.append(record(1));
    let _ = log.store();
    assert!(log.failing().is_some());

    // An intact log is not reported.
    let clean = tempfile::tempdir()?;
    let clean_path = db_path(&clean);
    common::write_log(&clean_path, 2_000)?;
    let intact = AuditLog::open(&clean_path)?;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(intact.failing(), None);
    Ok(())
}

#[test]
fn an_index_rebuilt_to_point_elsewhere_vouches_for_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    let mut answer = libos_audit::AuditRecord::decided_now(
        ("human:op", "human.approve", "answer"),
        libos_audit::Verdict::Allow,
        "approved",
        Some("req-1".into()),
    );
    answer.args_digest = Some("a".repeat(64));
    log.append(answer);
    log.flush()?;
    drop(log);
    assert!(libos_audit::vouches(&path, &"a".repeat(64))?);
    let forged = "f".repeat(64);
    assert!(!libos_audit::vouches(&path, &forged)?);

    // The index's entries rebuilt so that the answer's row is found under the forged digest,
    // while the schema still shows the original definition.
    let conn = raw(&path)?;
    let original: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE name = 'audit_by_answer'",
        [],
        |r| r.get(0),
    )?;
    conn.execute_batch(&format!(
        "DROP INDEX audit_by_answer;
         CREATE INDEX audit_by_answer ON audit (CASE WHEN seq = 1 THEN '{forged}' ELSE args_digest END)
             WHERE action = 'human.approve' OR action = 'human.deny';"
    ))?;
    let version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA writable_schema = ON")?;
    conn.execute(
        "UPDATE sqlite_master SET sql = ?1 WHERE name = 'audit_by_answer'",
        [&original],
    )?;
    conn.execute_batch(&format!(
        "PRAGMA schema_version = {}; PRAGMA writable_schema = OFF;",
        version + 1
    ))?;
    drop(conn);
    assert!(
        !libos_audit::vouches(&path, &forged)?,
        "a forged index entry vouched for a rule"
    );
    Ok(())
}

#[test]
fn a_trigger_on_the_audit_tables_fails_every_batch() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    log.append(record(0));
    log.store().map_err(|e| anyhow::anyhow!("{e}"))?;
    for trigger in [
        "CREATE TRIGGER hide BEFORE INSERT ON audit BEGIN SELECT RAISE(IGNORE); END;",
        "CREATE TRIGGER hide AFTER INSERT ON audit BEGIN DELETE FROM audit WHERE seq = new.seq; END;",
        "CREATE TRIGGER hide BEFORE UPDATE ON audit_head BEGIN SELECT RAISE(IGNORE); END;",
    ] {
        raw(&path)?.execute_batch(trigger)?;
        log.append(record(1));
        let why = log
            .store()
            .expect_err("a batch under a trigger is not stored");
        assert!(why.contains("trigger"), "{trigger}: {why}");
        assert!(log.failing().is_some(), "{trigger}");
        raw(&path)?.execute_batch("DROP TRIGGER hide")?;
    }
    log.append(record(2));
    log.store().map_err(|e| anyhow::anyhow!("after: {e}"))?;
    drop(log);
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 2, "only what was stored as written");
    Ok(())
}

#[test]
fn a_row_forged_outside_the_chain_vouches_for_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    common::write_log(&path, 3)?;
    let forged = "e".repeat(64);
    let zeros = "0".repeat(64);
    let conn = raw(&path)?;
    for seq in [-7i64, 0, 99] {
        conn.execute(
            "INSERT INTO audit (seq, time_ns, subject, action, resource, verdict, reason, \
             policy_ids, request_id, args_digest, prev_hash, hash) \
             VALUES (?1, 1, 'human:op', 'human.approve', 'answer', 'allow', 'approved', '[]', \
             'req-forged', ?2, ?3, ?3)",
            rusqlite::params![seq, forged, zeros],
        )?;
        assert!(
            !libos_audit::vouches(&path, &forged)?,
            "a row at seq {seq} outside the chain vouched"
        );
        conn.execute("DELETE FROM audit WHERE seq = ?1", [seq])?;
    }
    // A row with the right place but a hash that does not follow from its contents.
    conn.execute(
        "UPDATE audit SET action = 'human.approve', args_digest = ?1 WHERE seq = 2",
        [&forged],
    )?;
    assert!(
        !libos_audit::vouches(&path, &forged)?,
        "an edited row vouched"
    );
    Ok(())
}
