//! Grants: what an approval allows, bound to exactly what was approved.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::Result;
use crate::request::{NewApproval, Request, RequestKind};
use crate::scope::Scope;
use crate::sql::{key, unsigned};

/// A call as a grant must match it: every field, exactly (absent fields match absent ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call<'a> {
    /// The calling process (grants are never inherited: a child has its own pid).
    pub pid: u64,
    /// The action.
    pub action: &'a str,
    /// The resource.
    pub resource: &'a str,
    /// Hex SHA-256 of the call's arguments.
    pub args_digest: Option<&'a str>,
    /// The target's version now (e.g. the file's content hash before this write).
    pub target_version: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// The call an approval request was made for.
    pub fn of(new: &'a NewApproval) -> Self {
        Call {
            pid: new.pid,
            action: &new.action,
            resource: &new.resource,
            args_digest: new.args_digest.as_deref(),
            target_version: new.target_version.as_deref(),
        }
    }
}

/// A grant minted by an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Its id.
    pub id: u64,
    /// The approved request.
    pub request_id: String,
    /// The process it covers.
    pub pid: u64,
    /// The action it covers.
    pub action: String,
    /// The resource it covers.
    pub resource: String,
    /// The argument digest it covers.
    pub args_digest: Option<String>,
    /// The target version it covers (after a covered effect: the version that effect left).
    pub target_version: Option<String>,
    /// Its scope, as approved.
    pub scope: String,
    /// Uses left (`None`: unlimited).
    pub uses_left: Option<u64>,
    /// When it expires (`None`: with the process).
    pub expires_ns: Option<u64>,
}

impl Grant {
    /// Hex SHA-256 over what a grant is and never changes (not its uses left, nor the version
    /// a covered effect moved it to): the record of the approval that minted it carries it as
    /// its argument digest, and a grant is used only while such a record exists.
    pub fn digest(&self) -> String {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        let (id, pid) = (self.id.to_le_bytes(), self.pid.to_le_bytes());
        let expires = self.expires_ns.unwrap_or(0).to_le_bytes();
        let fields: [&[u8]; 8] = [
            &id,
            self.request_id.as_bytes(),
            &pid,
            self.action.as_bytes(),
            self.resource.as_bytes(),
            self.args_digest.as_deref().unwrap_or("").as_bytes(),
            self.scope.as_bytes(),
            &expires,
        ];
        for field in fields {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field);
        }
        hex::encode(h.finalize())
    }
}

const COLUMNS: &str = "id, request_id, pid, action, resource, args_digest, target_version, \
     scope, uses_left, expires_ns";

fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: unsigned(row.get(0)?),
        request_id: row.get(1)?,
        pid: unsigned(row.get(2)?),
        action: row.get(3)?,
        resource: row.get(4)?,
        args_digest: row.get(5)?,
        target_version: row.get(6)?,
        scope: row.get(7)?,
        uses_left: row.get::<_, Option<i64>>(8)?.map(unsigned),
        expires_ns: row.get::<_, Option<i64>>(9)?.map(unsigned),
    })
}

/// Mints the grant of approving `request` with `scope` at `now`.
pub(crate) fn mint(conn: &Connection, request: &Request, scope: Scope, now: i64) -> Result<Grant> {
    let RequestKind::Approval {
        action,
        resource,
        args_digest,
        target_version,
        ..
    } = &request.kind
    else {
        return Err(crate::HumanError::Invalid(format!(
            "{} is a question: it mints no grant",
            request.id
        )));
    };
    conn.prepare_cached(
        "INSERT INTO human_grants (request_id, pid, action, resource, args_digest,
             target_version, scope, uses_left, expires_ns, created_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        request.id,
        key(request.pid),
        action,
        resource,
        args_digest,
        target_version,
        scope.to_string(),
        scope.uses(),
        scope.expires(now),
        now
    ])?;
    get(conn, unsigned(conn.last_insert_rowid()))
}

/// The grant `id`.
pub(crate) fn get(conn: &Connection, id: u64) -> Result<Grant> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM human_grants WHERE id = ?1"))?
        .query_row(params![key(id)], decode)?)
}

/// The oldest grant that covers `call` at `now` with a use left.
pub(crate) fn covering(conn: &Connection, call: &Call<'_>, now: i64) -> Result<Option<Grant>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM human_grants
             WHERE pid = ?1 AND action = ?2 AND resource = ?3
               AND COALESCE(args_digest, '') = COALESCE(?4, '')
               AND COALESCE(target_version, '') = COALESCE(?5, '')
               AND (uses_left IS NULL OR uses_left > 0)
               AND (expires_ns IS NULL OR expires_ns > ?6)
             ORDER BY id LIMIT 1"
        ))?
        .query_row(
            params![
                key(call.pid),
                call.action,
                call.resource,
                call.args_digest,
                call.target_version,
                now
            ],
            decode,
        )
        .optional()?)
}

/// Takes one use of grant `id` if it has one left (always, for an unlimited one).
pub(crate) fn take(conn: &Connection, id: u64) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE human_grants SET uses_left = uses_left - 1
             WHERE id = ?1 AND uses_left IS NOT NULL AND uses_left > 0",
        )?
        .execute(params![key(id)])?;
    if changed == 1 {
        return Ok(true);
    }
    let unlimited: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM human_grants WHERE id = ?1 AND uses_left IS NULL")?
        .query_row(params![key(id)], |row| row.get(0))
        .optional()?;
    Ok(unlimited.is_some())
}

/// Gives back a use taken with [`take`] (the effect failed).
pub(crate) fn give_back(conn: &Connection, id: u64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE human_grants SET uses_left = uses_left + 1
         WHERE id = ?1 AND uses_left IS NOT NULL",
    )?
    .execute(params![key(id)])?;
    Ok(())
}

/// Records that a covered effect left the target at `version`: the grant's further uses
/// cover the target as that effect left it, not as anyone else changes it.
pub(crate) fn advance(conn: &Connection, id: u64, version: Option<&str>) -> Result<()> {
    conn.prepare_cached("UPDATE human_grants SET target_version = ?2 WHERE id = ?1")?
        .execute(params![key(id), version])?;
    Ok(())
}

/// Every grant of `pid`, oldest first.
pub(crate) fn of_process(conn: &Connection, pid: u64) -> Result<Vec<Grant>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM human_grants WHERE pid = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![key(pid)], decode)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every grant stored in the database at `db`, opened read-only (no table: none); for
/// checking them without changing anything (`libos audit verify`).
///
/// # Errors
/// [`crate::HumanError::Store`] when the database cannot be read.
pub fn stored(db: &std::path::Path) -> Result<Vec<Grant>> {
    if !db.exists() {
        return Ok(Vec::new());
    }
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let exists = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'human_grants'",
            [],
            |_| Ok(()),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM human_grants ORDER BY id"))?;
    let rows = stmt.query_map([], decode)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
