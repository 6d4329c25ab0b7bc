//! Decoding stored `audit` rows back into records, without trusting their contents.
//!
//! Every problem with a stored value (NULL, wrong type, invalid UTF-8, bad JSON, unknown
//! verdict, malformed hash) is returned as a description, never a panic, so callers can turn
//! it into an error or a bad-record report.

use std::sync::Arc;

use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::read::StoredRecord;
use crate::record::{AuditRecord, Decided, Verdict};

/// Decodes the `seq` column (column 0 of [`crate::schema::AUDIT_COLUMNS`]).
pub(crate) fn seq(row: &Row<'_>) -> Result<i64, String> {
    integer(row, 0, "seq")
}

/// Decodes a full row selected with [`crate::schema::AUDIT_COLUMNS`]. The hashes are returned
/// as stored; use [`hash_bytes`] to check them.
pub(crate) fn stored_record(row: &Row<'_>, seq: i64) -> Result<StoredRecord, String> {
    let verdict_text = text(row, 5, "verdict")?;
    let verdict = match verdict_text.as_str() {
        "allow" => Verdict::Allow,
        "deny" => Verdict::Deny,
        "ask" => Verdict::Ask,
        other => return Err(format!("verdict {other:?} is not allow, deny or ask")),
    };
    let policy_json = text(row, 7, "policy_ids")?;
    let policy_ids: Vec<String> = serde_json::from_str(&policy_json)
        .map_err(|e| format!("policy_ids is not a JSON array of strings: {e}"))?;
    let record = AuditRecord {
        time_ns: integer(row, 1, "time_ns")?,
        decided: Arc::new(Decided {
            subject: text(row, 2, "subject")?.into(),
            action: text(row, 3, "action")?.into(),
            resource: text(row, 4, "resource")?.into(),
            verdict,
            reason: text(row, 6, "reason")?.into(),
            policy_ids: policy_ids.into(),
        }),
        request_id: optional_text(row, 8, "request_id")?,
        args_digest: optional_text(row, 9, "args_digest")?,
        detail: optional_text(row, 12, "detail")?,
    };
    Ok(StoredRecord {
        seq,
        prev_hash: text(row, 10, "prev_hash")?,
        hash: text(row, 11, "hash")?,
        record,
    })
}

/// Parses a stored hash: exactly 64 hex digits.
pub(crate) fn hash_bytes(name: &str, hex_text: &str) -> Result<[u8; 32], String> {
    let bytes =
        hex::decode(hex_text).map_err(|e| format!("{name} {hex_text:?} is not hex: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{name} is {} bytes long, not 32", bytes.len()))
}

/// Decodes an INTEGER column.
pub(crate) fn integer(row: &Row<'_>, idx: usize, name: &str) -> Result<i64, String> {
    match value(row, idx, name)? {
        ValueRef::Integer(i) => Ok(i),
        other => Err(format!("{name} is {}, not an integer", kind(other))),
    }
}

/// Decodes a non-NULL TEXT column.
pub(crate) fn text(row: &Row<'_>, idx: usize, name: &str) -> Result<String, String> {
    match value(row, idx, name)? {
        ValueRef::Text(bytes) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("{name} is not valid UTF-8"))
        }
        other => Err(format!("{name} is {}, not text", kind(other))),
    }
}

fn optional_text(row: &Row<'_>, idx: usize, name: &str) -> Result<Option<String>, String> {
    match value(row, idx, name)? {
        ValueRef::Null => Ok(None),
        _ => text(row, idx, name).map(Some),
    }
}

fn value<'r>(row: &'r Row<'_>, idx: usize, name: &str) -> Result<ValueRef<'r>, String> {
    row.get_ref(idx)
        .map_err(|e| format!("{name} cannot be read: {e}"))
}

fn kind(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}
