//! The writer thread: drains queued records and appends them to the chain in batches.
//!
//! Each batch is one `BEGIN IMMEDIATE` transaction that reads the chain tail from
//! `audit_head` inside the transaction, so several processes appending to the same database
//! still produce one linear chain. A failed batch is rolled back as a whole; its failure is
//! kept and handed to the next flush.

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::chain::{self, GENESIS_HASH};
use crate::error::AuditError;
use crate::record::AuditRecord;
use crate::row;

/// Most records written in one transaction.
pub(crate) const MAX_BATCH: usize = 1024;

/// A message to the writer thread.
pub(crate) enum Msg {
    /// Append this record.
    Record(AuditRecord),
    /// Reply once every message queued before this one is committed, with the failure (if any)
    /// of writes since the previous flush.
    Flush(Sender<Result<(), AuditError>>),
}

/// Failures accumulated since the last flush.
struct Failure {
    lost: u64,
    first: AuditError,
}

/// Runs the writer loop until every sender is gone, then returns after writing what was
/// queued.
pub(crate) fn run(mut conn: Connection, rx: Receiver<Msg>) {
    let mut batch: Vec<AuditRecord> = Vec::with_capacity(MAX_BATCH);
    let mut waiters: Vec<Sender<Result<(), AuditError>>> = Vec::new();
    let mut failure: Option<Failure> = None;

    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(record) => batch.push(record),
                Msg::Flush(reply) => waiters.push(reply),
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }

        if !batch.is_empty() {
            if let Err(error) = append_batch(&mut conn, &batch) {
                let lost = batch.len() as u64;
                tracing::error!(%error, lost, "audit batch failed; records not written");
                match &mut failure {
                    Some(f) => f.lost += lost,
                    None => failure = Some(Failure { lost, first: error }),
                }
            }
            batch.clear();
        }

        for reply in waiters.drain(..) {
            let result = match failure.take() {
                None => Ok(()),
                Some(f) => Err(AuditError::WriteFailed {
                    lost: f.lost,
                    source: Box::new(f.first),
                }),
            };
            // The flushing thread may have stopped waiting; nothing to report to then.
            let _ = reply.send(result);
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

/// Appends `records` to the chain in one `BEGIN IMMEDIATE` transaction.
fn append_batch(conn: &mut Connection, records: &[AuditRecord]) -> Result<(), AuditError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (mut seq, mut prev) = chain_tail(&tx)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit (seq, time_ns, subject, action, resource, verdict, reason, \
             policy_ids, request_id, args_digest, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for record in records {
            seq = seq
                .checked_add(1)
                .ok_or_else(|| AuditError::Corrupt("audit seq overflow".into()))?;
            let hash = chain::record_hash(&prev, seq, record);
            let policy_ids = serde_json::to_string(&record.policy_ids)?;
            insert.execute(params![
                seq,
                record.time_ns,
                record.subject,
                record.action,
                record.resource,
                record.verdict.as_str(),
                record.reason,
                policy_ids,
                record.request_id,
                record.args_digest,
                hex::encode(prev),
                hex::encode(hash),
            ])?;
            prev = hash;
        }
    }
    tx.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![seq, hex::encode(prev)],
    )?;
    tx.commit()?;
    Ok(())
}

/// The `(seq, hash)` to extend from: the head row, or `(0, GENESIS_HASH)` for an empty log.
///
/// The chain is extended from the head rather than from the last row, so a deleted tail stays
/// a visible gap instead of being papered over by new records.
fn chain_tail(conn: &Connection) -> Result<(i64, [u8; 32]), AuditError> {
    let head = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
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
