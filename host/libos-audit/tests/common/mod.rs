//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use libos_audit::{AuditLog, AuditRecord, AuditSink, Verdict};
use rusqlite::Connection;

/// A distinct record for index `i`, exercising every field and both option states.
pub fn record(i: u64) -> AuditRecord {
    let verdict = match i % 3 {
        0 => Verdict::Allow,
        1 => Verdict::Deny,
        _ => Verdict::Ask,
    };
    AuditRecord {
        time_ns: 1_700_000_000_000_000_000 + i as i64,
        decided: std::sync::Arc::new(libos_audit::Decided {
            subject: format!("tool:t{}", i % 7).into(),
            action: if i.is_multiple_of(2) {
                "fs.read"
            } else {
                "fs.write"
            }
            .into(),
            resource: format!("dir/file-{i}.txt").into(),
            verdict,
            reason: if i.is_multiple_of(4) {
                "".into()
            } else {
                format!("reason {i}").into()
            },
            policy_ids: (0..(i % 3)).map(|p| format!("policy{p}")).collect(),
        }),
        request_id: (verdict == Verdict::Ask).then(|| format!("req-{i}")),
        args_digest: (i % 2 == 1).then(|| format!("{i:064x}")),
        detail: None,
    }
}

/// A fresh database path inside `dir`.
pub fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("libos.db")
}

/// Creates a log at `path` holding records `0..n`, flushed and closed.
pub fn write_log(path: &Path, n: u64) -> anyhow::Result<()> {
    let log = AuditLog::open(path)?;
    for i in 0..n {
        log.append(record(i));
    }
    log.flush()?;
    Ok(())
}

/// A plain read-write connection to `path`, as an attacker would use.
pub fn raw(path: &Path) -> anyhow::Result<Connection> {
    Ok(Connection::open(path)?)
}

/// The stored `hash` of record `seq`, as 32 bytes.
pub fn stored_hash(conn: &Connection, seq: i64) -> anyhow::Result<[u8; 32]> {
    let text: String =
        conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0))?;
    let bytes = hex::decode(text)?;
    Ok(<[u8; 32]>::try_from(bytes.as_slice())?)
}

/// Inserts `rec` as row `seq` with the given hashes, bypassing the log.
pub fn insert_raw(
    conn: &Connection,
    seq: i64,
    rec: &AuditRecord,
    prev_hash: &[u8; 32],
    hash: &[u8; 32],
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO audit (seq, time_ns, subject, action, resource, verdict, reason, policy_ids, \
         request_id, args_digest, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        rusqlite::params![
            seq,
            rec.time_ns,
            rec.decided.subject,
            rec.decided.action,
            rec.decided.resource,
            rec.decided.verdict.as_str(),
            rec.decided.reason,
            serde_json::to_string(&rec.decided.policy_ids)?,
            rec.request_id,
            rec.args_digest,
            hex::encode(prev_hash),
            hex::encode(hash),
        ],
    )?;
    Ok(())
}

/// Verifies `path` and returns the first bad record's `(seq, reason)`; fails if the chain is
/// reported intact.
pub fn first_bad(path: &Path) -> anyhow::Result<(i64, String)> {
    let report = libos_audit::verify(path)?;
    let bad = report
        .first_bad
        .ok_or_else(|| anyhow::anyhow!("tampering not detected"))?;
    Ok((bad.seq, bad.reason))
}
