//! The writer thread: drains queued records and appends them to the chain in batches.
//!
//! Each batch is one `BEGIN IMMEDIATE` transaction that reads the chain tail from
//! `audit_head` inside the transaction, so several processes appending to the same database
//! still produce one linear chain. A failed batch is rolled back as a whole; every flush
//! waiting in that round is told, and so is the next flush if none was waiting (nobody acts on
//! a record that was not stored). Until a later round commits, the queue reports the log as
//! failing, so decisions fail closed.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::chain::{self, GENESIS_HASH};
use crate::error::AuditError;
use crate::queue::{CAPACITY, Item, Queue};
use crate::record::AuditRecord;
use crate::row;

/// Most records written in one transaction, so one commit never holds the database's write
/// lock for long.
pub(crate) const MAX_BATCH: usize = 4096;

/// Failures accumulated since the last flush.
struct Failure {
    lost: u64,
    first: AuditError,
}

/// Marks the writer as stopped when the thread leaves [`run`], returning or unwinding.
struct StopGuard<'a>(&'a Queue);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.writer_stopped();
    }
}

/// Runs the writer loop until the log is closed, then returns after writing what was queued.
pub(crate) fn run(mut conn: Connection, queue: Arc<Queue>, head_file: std::path::PathBuf) {
    let _stopped = StopGuard(&queue);
    let mut items: Vec<Item> = Vec::new();
    let mut batch: Vec<AuditRecord> = Vec::with_capacity(CAPACITY);
    let mut failure: Option<Failure> = None;

    loop {
        let work = queue.take(&mut items);
        for item in items.drain(..) {
            item.drain_into(&mut batch);
        }
        let batch_was_empty = batch.is_empty();
        let mut head = None;
        let mut this_round: Option<String> = None;
        for chunk in batch.chunks(MAX_BATCH) {
            match append_batch(&mut conn, chunk) {
                Ok(committed) => head = Some(committed),
                Err(error) => {
                    let lost = chunk.len() as u64;
                    tracing::error!(%error, lost, "audit batch failed; records not written");
                    this_round.get_or_insert_with(|| error.to_string());
                    match &mut failure {
                        Some(f) => f.lost += lost,
                        None => failure = Some(Failure { lost, first: error }),
                    }
                }
            }
        }
        batch.clear();
        // The head outside the database follows what was committed; if it cannot, the
        // records are stored but the flush fails (whoever waits acts on nothing).
        if let Some((seq, hash)) = head
            && let Err(e) = crate::head_file::advance(&head_file, seq, &hash)
        {
            tracing::error!(error = %e, "audit head file not written");
            this_round.get_or_insert_with(|| format!("audit head file not written: {e}"));
            if failure.is_none() {
                failure = Some(Failure {
                    lost: 0,
                    first: AuditError::Io(e),
                });
            }
        }

        if this_round.is_some() || head.is_some() {
            queue.set_failing(this_round);
        }
        if !work.flushes.is_empty() {
            // A round that wrote nothing while the log is failing (the last batch failed, none
            // committed since) tells its waiters so: their records may be in that batch.
            let still_failing = if batch_was_empty && failure.is_none() {
                queue.failing()
            } else {
                None
            };
            let told = failure.take().map(|f| (f.lost, f.first.to_string()));
            for reply in work.flushes {
                reply(match (&told, &still_failing) {
                    (Some((lost, first)), _) => Err(AuditError::WriteFailed {
                        lost: *lost,
                        source: Box::new(AuditError::Reported(first.clone())),
                    }),
                    (None, Some(why)) => Err(AuditError::Reported(format!(
                        "the audit log is not being written: {why}"
                    ))),
                    (None, None) => Ok(()),
                });
            }
        }
        if work.closing {
            break;
        }
    }

    if let Some(f) = failure {
        tracing::error!(
            lost = f.lost,
            error = %f.first,
            "audit writer stopped with unreported write failures"
        );
    }
}

/// Appends `records` to the chain in one `BEGIN IMMEDIATE` transaction; returns the head it
/// committed.
fn append_batch(
    conn: &mut Connection,
    records: &[AuditRecord],
) -> Result<(i64, [u8; 32]), AuditError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A trigger on the audit tables could drop or change what is written while the insert
    // reports success: none may exist (checked in the batch's own transaction).
    let triggers: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' \
             AND (tbl_name = 'audit' OR tbl_name = 'audit_head')",
        )?
        .query_row([], |row| row.get(0))?;
    if triggers > 0 {
        return Err(AuditError::Corrupt(format!(
            "{triggers} trigger(s) on the audit tables: records would not be stored as written"
        )));
    }
    let (mut seq, mut prev) = chain_tail(&tx)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit (seq, time_ns, subject, action, resource, verdict, reason, \
             policy_ids, request_id, args_digest, prev_hash, hash, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        // Consecutive records usually share their policy ids; encode each list once.
        let mut policy_json: Option<(Arc<[String]>, String)> = None;
        let (mut prev_hex, mut hash_hex) = ([0u8; 64], [0u8; 64]);
        for record in records {
            seq = seq
                .checked_add(1)
                .ok_or_else(|| AuditError::Corrupt("audit seq overflow".into()))?;
            let hash = chain::record_hash(&prev, seq, record);
            let decided = &*record.decided;
            let policy_ids = match &policy_json {
                Some((ids, json)) if Arc::ptr_eq(ids, &decided.policy_ids) => json,
                _ => {
                    let json = serde_json::to_string(&decided.policy_ids)?;
                    &policy_json
                        .insert((Arc::clone(&decided.policy_ids), json))
                        .1
                }
            };
            let inserted = insert.execute(params![
                seq,
                record.time_ns,
                decided.subject,
                decided.action,
                decided.resource,
                decided.verdict.as_str(),
                decided.reason,
                policy_ids,
                record.request_id,
                record.args_digest,
                chain::hex_into(&prev, &mut prev_hex),
                chain::hex_into(&hash, &mut hash_hex),
                record.detail,
            ])?;
            if inserted != 1 {
                return Err(AuditError::Corrupt(format!(
                    "record {seq}: the insert stored {inserted} rows"
                )));
            }
            prev = hash;
        }
    }
    tx.prepare_cached(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![seq, hex::encode(prev)])?;
    let moved: i64 = tx
        .prepare_cached("SELECT seq FROM audit_head WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    if moved != seq {
        return Err(AuditError::Corrupt(format!(
            "the audit head did not move to record {seq}"
        )));
    }
    tx.commit()?;
    Ok((seq, prev))
}

/// The `(seq, hash)` to extend from: the head row, or `(0, GENESIS_HASH)` for an empty log.
///
/// The chain is extended from the head rather than from the last row, so a deleted tail stays
/// a visible gap instead of being papered over by new records.
fn chain_tail(conn: &Connection) -> Result<(i64, [u8; 32]), AuditError> {
    let head = conn
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| {
            Ok((row::integer(r, 0, "head seq"), row::text(r, 1, "head hash")))
        })
        .optional()?;
    match head {
        Some((seq, hash)) => {
            let seq = seq.map_err(AuditError::Corrupt)?;
            let hash = hash.and_then(|h| row::hash_bytes("head hash", &h));
            Ok((seq, hash.map_err(AuditError::Corrupt)?))
        }
        None => {
            let rows: i64 = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
            if rows == 0 {
                Ok((0, GENESIS_HASH))
            } else {
                Err(AuditError::Corrupt(format!(
                    "audit_head is missing but audit holds {rows} record(s); refusing to extend"
                )))
            }
        }
    }
}
