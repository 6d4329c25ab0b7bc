//! Appending, flushing, reading back and verifying intact logs.

mod common;

use std::sync::Arc;

use common::{db_path, raw, record, write_log};
use libos_audit::{AuditLog, AuditSink, read_records, verify};

#[test]
fn appended_records_verify_and_read_back_in_order() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    assert_eq!(log.path(), path.as_path());
    for i in 0..2500 {
        log.append(record(i));
    }
    log.flush()?;

    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 2500);

    let stored = read_records(&path, None)?;
    assert_eq!(stored.len(), 2500);
    let mut prev = "0".repeat(64);
    for (i, s) in stored.iter().enumerate() {
        assert_eq!(s.seq, i as i64 + 1);
        assert_eq!(s.record, record(i as u64));
        assert_eq!(s.prev_hash, prev);
        assert_eq!(s.hash.len(), 64);
        prev = s.hash.clone();
    }
    Ok(())
}

#[test]
fn read_records_limit_returns_newest_oldest_first() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    write_log(&path, 10)?;

    let last3 = read_records(&path, Some(3))?;
    let seqs: Vec<i64> = last3.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, vec![8, 9, 10]);
    assert_eq!(last3[0].record, record(7));
    assert_eq!(read_records(&path, Some(100))?.len(), 10);
    assert!(read_records(&path, Some(0))?.is_empty());
    Ok(())
}

#[test]
fn stored_record_serialises_flat() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    write_log(&path, 3)?;
    let stored = read_records(&path, None)?;
    let json = serde_json::to_value(&stored[2])?;
    assert_eq!(json["seq"], 3);
    assert_eq!(json["verdict"], "ask");
    assert_eq!(json["request_id"], "req-2");
    assert_eq!(
        json["policy_ids"],
        serde_json::json!(["policy0", "policy1"])
    );
    assert_eq!(json["hash"], stored[2].hash.as_str());
    Ok(())
}

#[test]
fn flush_makes_records_visible_to_other_connections() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    for i in 0..50 {
        log.append(record(i));
    }
    log.flush()?;
    let conn = raw(&path)?;
    let count: i64 = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
    assert_eq!(count, 50);
    let (seq, hash): (i64, String) =
        conn.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let last: String = conn.query_row("SELECT hash FROM audit WHERE seq = 50", [], |r| r.get(0))?;
    assert_eq!((seq, hash), (50, last));
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_eq!(mode, "wal");
    drop(log);
    Ok(())
}

#[test]
fn drop_flushes_pending_records() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    {
        let log = AuditLog::open(&path)?;
        for i in 0..777 {
            log.append(record(i));
        }
    }
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 777);
    Ok(())
}

#[test]
fn chain_continues_across_reopen() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    write_log(&path, 5)?;
    {
        let log = AuditLog::open(&path)?;
        for i in 5..12 {
            log.append(record(i));
        }
        log.flush()?;
    }
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 12);
    let stored = read_records(&path, None)?;
    for (i, s) in stored.iter().enumerate() {
        assert_eq!(s.record, record(i as u64));
    }
    Ok(())
}

#[test]
fn concurrent_logs_on_one_file_form_one_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let a = Arc::new(AuditLog::open(&path)?);
    let b = Arc::new(AuditLog::open(&path)?);
    let per_thread = 1500u64;

    let threads: Vec<_> = [(a.clone(), 0u64), (b.clone(), 1_000_000u64)]
        .into_iter()
        .map(|(log, base)| {
            std::thread::spawn(move || -> Result<(), libos_audit::AuditError> {
                for i in 0..per_thread {
                    log.append(record(base + i));
                    if i % 97 == 0 {
                        log.flush()?;
                    }
                }
                log.flush()
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("appender panicked"))??;
    }

    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 2 * per_thread);

    // Each log's records appear exactly once and in the order that log appended them.
    let stored = read_records(&path, None)?;
    let from = |base: u64| -> Vec<_> {
        stored
            .iter()
            .filter(|s| (s.record.time_ns as u64) >= 1_700_000_000_000_000_000 + base)
            .filter(|s| (s.record.time_ns as u64) < 1_700_000_000_000_000_000 + base + per_thread)
            .map(|s| s.record.clone())
            .collect()
    };
    let expect = |base: u64| -> Vec<_> { (0..per_thread).map(|i| record(base + i)).collect() };
    assert_eq!(from(0), expect(0));
    assert_eq!(from(1_000_000), expect(1_000_000));
    Ok(())
}

#[test]
fn many_threads_share_one_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = Arc::new(AuditLog::open(&path)?);
    append_from_threads(&log, 8, 500)?;
    log.flush()?;
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 4000);
    Ok(())
}

#[test]
fn missing_database_or_tables_is_an_empty_intact_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);

    let report = verify(&path)?;
    assert!(report.is_ok());
    assert_eq!(report.records, 0);
    assert!(read_records(&path, None)?.is_empty());
    assert!(!path.exists(), "verify/read must not create the database");

    raw(&path)?.execute_batch("CREATE TABLE other (x INTEGER); INSERT INTO other VALUES (1);")?;
    let report = verify(&path)?;
    assert!(report.is_ok());
    assert_eq!(report.records, 0);
    assert!(read_records(&path, None)?.is_empty());
    Ok(())
}

#[test]
fn open_keeps_other_tables_in_the_shared_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    raw(&path)?.execute_batch("CREATE TABLE other (x INTEGER); INSERT INTO other VALUES (42);")?;
    write_log(&path, 3)?;
    let x: i64 = raw(&path)?.query_row("SELECT x FROM other", [], |r| r.get(0))?;
    assert_eq!(x, 42);
    assert!(verify(&path)?.is_ok());
    Ok(())
}

#[test]
fn flush_with_nothing_appended_succeeds() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    log.flush()?;
    log.flush()?;
    let report = verify(&path)?;
    assert!(report.is_ok());
    assert_eq!(report.records, 0);
    Ok(())
}

/// More records than the queue holds (64 Ki): appenders wait for the writer instead of growing
/// memory, and every record still lands, in order, in one chain.
#[test]
fn appends_beyond_the_queue_bound_wait_and_all_land() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = Arc::new(AuditLog::open(&path)?);
    append_from_threads(&log, 2, 35_000)?;
    log.flush()?;
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 70_000);
    Ok(())
}

/// Appends `per_thread` distinct records from each of `threads` threads at once.
fn append_from_threads(log: &Arc<AuditLog>, threads: u64, per_thread: u64) -> anyhow::Result<()> {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(log);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    log.append(record(t * per_thread + i));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| anyhow::anyhow!("appender panicked"))?;
    }
    Ok(())
}

#[test]
fn batches_and_single_records_land_in_order_and_verify() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let log = AuditLog::open(&path)?;
    // Runs of a shared decision, a decision repeated by value (not by pointer), single
    // records in between: every record keeps its own mark and its place.
    let shared = record(0).decided;
    let mut expected = Vec::new();
    let mut batch = libos_audit::Batch::with_capacity(4);
    for i in 0..300u64 {
        let decided = if i % 50 < 40 {
            Arc::clone(&shared)
        } else {
            record(i).decided
        };
        let digest = (i % 3 == 0).then_some([i as u8; 32]);
        let request_id = (i % 5 == 0).then(|| format!("req-{i}"));
        // Some records carry a detail, one far past the cap (kept cut, saying so).
        let detail = match i {
            7 => Some(format!("[\"{}\"]", "x".repeat(3 * libos_audit::MAX_DETAIL))),
            i if i % 7 == 0 => Some(format!("[\"echo\",\"{i}\"]")),
            _ => None,
        };
        let kept = detail.clone().map(libos_audit::capped_detail);
        if i == 7 {
            let kept = kept.as_deref().unwrap_or_default();
            assert!(kept.len() <= libos_audit::MAX_DETAIL, "{}", kept.len());
            assert!(kept.ends_with("bytes in all)"), "the cut says so");
        }
        expected.push(libos_audit::AuditRecord {
            time_ns: i as i64,
            decided: Arc::clone(&decided),
            request_id: request_id.clone(),
            args_digest: digest.map(|d| d.iter().map(|b| format!("{b:02x}")).collect()),
            detail: kept,
        });
        batch.push(&decided, i as i64, request_id, digest.as_ref(), detail);
        if i % 64 == 63 {
            assert_eq!(batch.len(), 64);
            log.append_batch(&mut batch);
            assert!(batch.is_empty(), "the batch is handed over whole");
            let single = record(10_000 + i);
            expected.push(single.clone());
            log.append(single);
        }
    }
    log.append_batch(&mut batch);
    log.flush()?;

    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    let stored: Vec<_> = read_records(&path, None)?
        .into_iter()
        .map(|s| s.record)
        .collect();
    assert_eq!(stored, expected);
    Ok(())
}

/// The `audit` table as it was before records had a `detail`.
const OLD_AUDIT: &str = "CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, subject TEXT NOT NULL,
    action TEXT NOT NULL, resource TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
    policy_ids TEXT NOT NULL, request_id TEXT, args_digest TEXT, prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL);
    CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
    hash TEXT NOT NULL);";

#[test]
fn a_log_from_before_the_detail_column_reads_verifies_and_takes_details() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    {
        let conn = raw(&path)?;
        conn.execute_batch(OLD_AUDIT)?;
        let mut prev = libos_audit::chain::GENESIS_HASH;
        for seq in 1..=3i64 {
            let rec = record(seq as u64);
            let hash = libos_audit::chain::record_hash(&prev, seq, &rec);
            common::insert_raw(&conn, seq, &rec, &prev, &hash)?;
            prev = hash;
        }
        conn.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, ?1)",
            [hex::encode(prev)],
        )?;
    }
    // Read-only, the old table answers the detail as absent and the chain holds.
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 3);
    assert!(
        read_records(&path, None)?
            .iter()
            .all(|r| r.record.detail.is_none())
    );

    // Opened for writing, the column is added and the chain goes on with a detail.
    let log = AuditLog::open(&path)?;
    let mut with = record(4);
    with.detail = Some(r#"["cat","/etc/shadow"]"#.into());
    log.append(with);
    log.flush()?;
    drop(log);
    let report = verify(&path)?;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.records, 4);
    let stored = read_records(&path, None)?;
    assert_eq!(
        stored[3].record.detail.as_deref(),
        Some(r#"["cat","/etc/shadow"]"#)
    );
    // Changing the stored detail is caught like any other field.
    raw(&path)?.execute("UPDATE audit SET detail = '[\"true\"]' WHERE seq = 4", [])?;
    assert!(!verify(&path)?.is_ok());
    Ok(())
}
