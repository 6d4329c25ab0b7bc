//! The audit tables and how connections to the shared database are opened.
//!
//! The database file is shared with other tables of the runtime; this module only ever creates
//! its own two tables, adds the `detail` column to an `audit` table made before it existed,
//! and never drops anything.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::AuditError;

/// Creates the audit tables if they do not exist yet.
///
/// `audit` holds one row per record; `seq` runs 1, 2, 3, ... without gaps. `audit_head` holds
/// at most one row (`id = 1`) naming the last record's `seq` and `hash`; it is updated in the
/// same transaction as every append, so deleting the newest rows is detectable.
///
/// The verdict check is spelled with `OR` on purpose: SQLite evaluates `IN (list)` with a
/// temporary b-tree built for every inserted row, which tripled the cost of an append.
const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq         INTEGER PRIMARY KEY,
    time_ns     INTEGER NOT NULL,
    subject     TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    verdict     TEXT NOT NULL
                CHECK (verdict = 'allow' OR verdict = 'deny' OR verdict = 'ask'),
    reason      TEXT NOT NULL,
    policy_ids  TEXT NOT NULL,
    request_id  TEXT,
    args_digest TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    detail      TEXT
);
CREATE TABLE IF NOT EXISTS audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_answer ON audit (args_digest)
    WHERE action = 'human.approve' OR action = 'human.deny';
";

/// The columns of `audit`, in the order [`crate::row`] decodes them.
pub(crate) const AUDIT_COLUMNS: &str = "seq, time_ns, subject, action, resource, verdict, reason, \
     policy_ids, request_id, args_digest, prev_hash, hash, detail";

/// [`AUDIT_COLUMNS`] as `conn`'s `audit` table can answer them: a log made before the
/// `detail` column, opened read-only, answers it as NULL.
pub(crate) fn audit_columns(conn: &Connection) -> Result<String, AuditError> {
    Ok(if has_detail(conn)? {
        AUDIT_COLUMNS.to_owned()
    } else {
        AUDIT_COLUMNS.replace(", detail", ", NULL AS detail")
    })
}

/// Whether `audit` has the `detail` column.
fn has_detail(conn: &Connection) -> Result<bool, AuditError> {
    let found = conn
        .query_row(
            "SELECT 1 FROM pragma_table_info('audit') WHERE name = 'detail'",
            [],
            |_| Ok(()),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Opens (creating if needed) the database for the writer thread: WAL journal,
/// `synchronous=FULL` (each batch's commit is synced before the head file moves past it, so
/// the file never names a record a crash of the machine could lose), the busy timeout, the
/// audit tables present, and the WAL's checkpoints done here, off every request's path
/// (`libos_db::checkpoint_here`).
pub(crate) fn open_for_writing(path: &Path) -> Result<Connection, AuditError> {
    let conn = libos_db::open(path, CREATE_TABLES)?;
    if !has_detail(&conn)? {
        conn.execute_batch("ALTER TABLE audit ADD COLUMN detail TEXT")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    libos_db::checkpoint_here(&conn)?;
    Ok(conn)
}

/// Opens an existing database read-only, or returns `None` if there is no file at `path`.
/// Never creates anything.
pub(crate) fn open_read_only(path: &Path) -> Result<Option<Connection>, AuditError> {
    match std::fs::metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(libos_db::BUSY_TIMEOUT)?;
    Ok(Some(conn))
}

/// Whether a table called `name` exists in the main schema.
pub(crate) fn table_exists(conn: &Connection, name: &str) -> Result<bool, AuditError> {
    let found = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?;
    Ok(found.is_some())
}
