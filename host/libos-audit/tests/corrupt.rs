//! Undecodable stored values give errors or bad-record reports, never panics, and write
//! failures are reported by flush.

mod common;

use common::{db_path, first_bad, raw, record, write_log};
use libos_audit::{AuditError, AuditLog, AuditSink, read_records, verify};

/// A flushed, closed log of five records.
fn five() -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    write_log(&path, 5)?;
    Ok((dir, path))
}

/// Rebuilds `audit` without constraints, so any value can be stored in any column.
fn loosen(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    conn.execute_batch(
        "CREATE TABLE loose (seq INTEGER PRIMARY KEY, time_ns, subject, action, resource, verdict,
             reason, policy_ids, request_id, args_digest, prev_hash, hash, detail);
         INSERT INTO loose SELECT * FROM audit;
         DROP TABLE audit;
         ALTER TABLE loose RENAME TO audit;",
    )?;
    Ok(())
}

#[test]
fn bad_values_give_a_bad_record_report() -> anyhow::Result<()> {
    let cases = [
        ("hash = 'not hex at all'", "hash"),
        ("hash = 'abcd'", "hash"),
        ("prev_hash = 'zz'", "prev_hash"),
        ("prev_hash = NULL", "prev_hash"),
        ("subject = NULL", "subject"),
        ("subject = 42", "subject"),
        ("subject = CAST(x'ff00' AS TEXT)", "UTF-8"),
        ("action = x'00'", "action"),
        ("time_ns = 'yesterday'", "time_ns"),
        ("time_ns = 1.5", "time_ns"),
        ("verdict = 'maybe'", "verdict"),
        ("verdict = NULL", "verdict"),
        ("policy_ids = 'not json'", "policy_ids"),
        ("policy_ids = '[1, 2]'", "policy_ids"),
        ("request_id = 7", "request_id"),
        ("detail = 7", "detail"),
    ];
    for (set, mention) in cases {
        let (_dir, path) = five()?;
        let conn = raw(&path)?;
        loosen(&conn)?;
        conn.execute(&format!("UPDATE audit SET {set} WHERE seq = 2"), [])?;
        let (seq, reason) = first_bad(&path)?;
        assert_eq!(seq, 2, "{set}: {reason}");
        assert!(reason.contains(mention), "{set}: {reason}");
    }
    Ok(())
}

#[test]
fn bad_values_make_read_records_fail_cleanly() -> anyhow::Result<()> {
    for set in [
        "subject = NULL",
        "verdict = 'maybe'",
        "time_ns = 'x'",
        "policy_ids = '{'",
    ] {
        let (_dir, path) = five()?;
        let conn = raw(&path)?;
        loosen(&conn)?;
        conn.execute(&format!("UPDATE audit SET {set} WHERE seq = 2"), [])?;
        match read_records(&path, None) {
            Err(AuditError::Corrupt(msg)) => assert!(msg.contains("record 2"), "{set}: {msg}"),
            other => panic!("{set}: expected a Corrupt error, got {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn non_integer_seq_is_reported() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    let conn = raw(&path)?;
    conn.execute_batch(
        "CREATE TABLE loose AS SELECT * FROM audit;
         DROP TABLE audit;
         ALTER TABLE loose RENAME TO audit;
         UPDATE audit SET seq = 'three' WHERE seq = 3;",
    )?;
    let (seq, reason) = first_bad(&path)?;
    // Text sorts after integers, so the walk sees 1, 2, 4 first.
    assert_eq!(seq, 3, "{reason}");
    assert!(read_records(&path, None).is_err());
    Ok(())
}

#[test]
fn corrupt_head_is_reported() -> anyhow::Result<()> {
    for set in ["hash = 'nothex'", "seq = 'five'"] {
        let (_dir, path) = five()?;
        raw(&path)?.execute(&format!("UPDATE audit_head SET {set}"), [])?;
        let (seq, reason) = first_bad(&path)?;
        assert_eq!(seq, 5, "{set}: {reason}");
        assert!(reason.contains("audit_head"), "{set}: {reason}");
    }
    Ok(())
}

#[test]
fn garbage_file_is_an_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    std::fs::write(&path, vec![0xA5u8; 8192])?;
    assert!(verify(&path).is_err());
    assert!(read_records(&path, None).is_err());
    assert!(AuditLog::open(&path).is_err());
    Ok(())
}

#[test]
fn failed_batch_is_reported_on_flush_and_not_half_written() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("UPDATE audit_head SET hash = 'nothex'", [])?;

    let log = AuditLog::open(&path)?;
    for i in 10..20 {
        log.append(record(i));
    }
    match log.flush() {
        Err(AuditError::WriteFailed { lost, .. }) => assert_eq!(lost, 10),
        other => panic!("expected WriteFailed, got {other:?}"),
    }
    // Nothing has been written since: the log says it is still failing.
    let still = log.flush().expect_err("the log is still failing");
    assert!(still.to_string().contains("not being written"), "{still}");

    let count: i64 = raw(&path)?.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
    assert_eq!(count, 5);

    // Once the head is repaired, appends succeed again and the chain is intact.
    let hash: String =
        raw(&path)?.query_row("SELECT hash FROM audit WHERE seq = 5", [], |r| r.get(0))?;
    raw(&path)?.execute("UPDATE audit_head SET hash = ?1", [hash])?;
    log.append(record(30));
    log.flush()?;
    drop(log);
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 6);
    Ok(())
}

#[test]
fn missing_head_with_rows_refuses_to_extend() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("DELETE FROM audit_head", [])?;
    let log = AuditLog::open(&path)?;
    log.append(record(9));
    assert!(matches!(
        log.flush(),
        Err(AuditError::WriteFailed { lost: 1, .. })
    ));
    Ok(())
}

#[test]
fn appended_rows_beyond_the_head_make_writes_fail() -> anyhow::Result<()> {
    let (_dir, path) = five()?;
    raw(&path)?.execute("UPDATE audit_head SET seq = 4", [])?;
    let log = AuditLog::open(&path)?;
    log.append(record(9));
    assert!(log.flush().is_err());
    let (seq, _) = first_bad(&path)?;
    assert_eq!(seq, 5);
    Ok(())
}
