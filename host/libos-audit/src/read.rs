//! Reading stored records back, for display (`audit show`).

use rusqlite::OptionalExtension as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AuditError;
use crate::record::AuditRecord;
use crate::{row, schema};

/// One record as stored in the log, with its position and chain hashes.
///
/// Serialises flat: `seq`, `prev_hash`, `hash`, then the fields of [`AuditRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// Position in the log, starting at 1.
    pub seq: i64,
    /// The previous record's hash as stored (64 hex digits; zeros for the first record).
    pub prev_hash: String,
    /// This record's chain hash as stored (64 hex digits). Not checked here: use
    /// [`crate::verify`] for that.
    pub hash: String,
    /// The record itself.
    #[serde(flatten)]
    pub record: AuditRecord,
}

/// Reads stored records in `seq` order (oldest first).
///
/// With `limit = Some(n)`, returns only the newest `n` records, still oldest first. A missing
/// database file or missing `audit` table yields no records. Opens the database read-only and
/// does not check the chain; a row whose values cannot be decoded gives
/// [`AuditError::Corrupt`].
pub fn read_records(db_path: &Path, limit: Option<usize>) -> Result<Vec<StoredRecord>, AuditError> {
    let Some(conn) = schema::open_read_only(db_path)? else {
        return Ok(Vec::new());
    };
    if !schema::table_exists(&conn, "audit")? {
        return Ok(Vec::new());
    }
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT {cols} FROM (SELECT {stored} FROM audit ORDER BY seq DESC LIMIT ?1) ORDER BY seq ASC",
        cols = schema::AUDIT_COLUMNS,
        stored = schema::audit_columns(&conn)?,
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq = row::seq(r).map_err(|p| AuditError::Corrupt(format!("audit row: {p}")))?;
        let stored = row::stored_record(r, seq)
            .map_err(|p| AuditError::Corrupt(format!("record {seq}: {p}")))?;
        out.push(stored);
    }
    Ok(out)
}

/// Whether the log in the database at `db_path` holds a person's answer (`human.approve` or
/// `human.deny`) recorded with argument digest `digest` (hex): the record that vouches for
/// something stored elsewhere (a standing rule) having been made by a person. What the index
/// finds is read back from the table and checked, so a forged index vouches for nothing.
///
/// # Errors
/// When the database cannot be read.
pub fn vouches(db_path: &Path, digest: &str) -> Result<bool, AuditError> {
    let Some(conn) = schema::open_read_only(db_path)? else {
        return Ok(false);
    };
    if !schema::table_exists(&conn, "audit")? {
        return Ok(false);
    }
    // The index finds candidates; each is read again from the table itself by its seq and
    // checked here, so an index rebuilt to point elsewhere vouches for nothing.
    let candidates: Vec<i64> = conn
        .prepare(
            "SELECT seq FROM audit WHERE args_digest = ?1 \
             AND (action = 'human.approve' OR action = 'human.deny') LIMIT 16",
        )?
        .query_map([digest], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for seq in candidates {
        if in_chain_answer(&conn, seq, digest)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether row `seq`, read from the table itself, is a person's answer carrying `digest` that
/// sits in the chain: within `1..=head`, its hash recomputed from its contents, linked to the
/// row before it (or the genesis) and by the row after it (if any). A row forged outside the
/// chain (a negative seq, zero hashes, a row slipped between two others) vouches for nothing;
/// one forged inside it means rewriting the chain, which `verify` and the head kept outside
/// the database report.
fn in_chain_answer(
    conn: &rusqlite::Connection,
    seq: i64,
    digest: &str,
) -> Result<bool, AuditError> {
    let head: Option<i64> = conn
        .query_row("SELECT seq FROM audit_head WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    if !head.is_some_and(|head| (1..=head).contains(&seq)) {
        return Ok(false);
    }
    let sql = format!(
        "SELECT {} FROM audit NOT INDEXED WHERE seq = ?1",
        schema::audit_columns(conn)?
    );
    let Some(stored) = conn
        .query_row(&sql, [seq], |r| Ok(row::stored_record(r, seq)))
        .optional()?
        .and_then(Result::ok)
    else {
        return Ok(false);
    };
    let decided = &stored.record.decided;
    if stored.record.args_digest.as_deref() != Some(digest)
        || !(&*decided.action == "human.approve" || &*decided.action == "human.deny")
    {
        return Ok(false);
    }
    let (Ok(prev), Ok(hash)) = (
        row::hash_bytes("prev_hash", &stored.prev_hash),
        row::hash_bytes("hash", &stored.hash),
    ) else {
        return Ok(false);
    };
    if crate::chain::record_hash(&prev, seq, &stored.record) != hash {
        return Ok(false);
    }
    let text_at = |column: &str, at: i64| -> Result<Option<String>, AuditError> {
        Ok(conn
            .query_row(
                &format!("SELECT {column} FROM audit NOT INDEXED WHERE seq = ?1"),
                [at],
                |r| r.get(0),
            )
            .optional()?)
    };
    let linked_before = if seq == 1 {
        prev == crate::chain::GENESIS_HASH
    } else {
        text_at("hash", seq - 1)?.as_deref() == Some(stored.prev_hash.as_str())
    };
    let linked_after = match seq.checked_add(1) {
        Some(next) => text_at("prev_hash", next)?.is_none_or(|p| p == stored.hash),
        None => true,
    };
    Ok(linked_before && linked_after)
}
