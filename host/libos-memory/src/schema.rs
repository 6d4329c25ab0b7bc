//! The object-memory tables and how connections to the shared database are opened.
//!
//! The database file is shared with other tables of the runtime; this module only creates its
//! own two tables and never drops or alters anything.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;

/// Creates the tables if they do not exist yet.
///
/// `memory_objects` holds one row per object; `size` is [`crate::object_size`] of the row.
/// `memory_usage` holds one row per non-empty namespace with its object count and the sum of
/// `size`; it is updated in the same transaction as every mutation, so it always equals the
/// aggregate over `memory_objects` without scanning it.
const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS memory_objects (
    namespace  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    value      TEXT    NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (namespace, kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memory_usage (
    namespace TEXT    PRIMARY KEY,
    objects   INTEGER NOT NULL CHECK (objects >= 0),
    bytes     INTEGER NOT NULL CHECK (bytes >= 0)
) WITHOUT ROWID;
";

/// Opens (creating if needed) the database at `path` with WAL journaling,
/// `synchronous=NORMAL`, the busy timeout and the tables present.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    Ok(libos_db::open(path, CREATE_TABLES)?)
}
