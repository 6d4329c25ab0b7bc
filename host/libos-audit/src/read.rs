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
    let mut row =
        conn.prepare("SELECT action, args_digest FROM audit NOT INDEXED WHERE seq = ?1")?;
    for seq in candidates {
        let stored = row
            .query_row([seq], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?;
        if let Some((action, Some(found))) = stored
            && found == digest
            && (action == "human.approve" || action == "human.deny")
        {
            return Ok(true);
        }
    }
    Ok(false)
}
