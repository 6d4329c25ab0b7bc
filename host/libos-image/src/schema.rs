//! The `images` table and how connections to the shared database are opened.
//!
//! The database file (`<state_dir>/libos.db`) is shared with other tables of the runtime;
//! this module only ever creates its own table and indexes, and never drops or alters
//! anything.

use std::path::Path;

use rusqlite::Connection;

use crate::error::ImageError;

/// The database file inside the state directory.
pub(crate) const DB_FILE: &str = "libos.db";

/// One row per `(name, version)`. `record` is the canonical JSON the image digest is the
/// SHA-256 of; `digest`, `created_ns` and `tool_count` are kept alongside for lookups and
/// listings. `created_ns` strictly increases from one stored record to the next, so the
/// newest version of a name is the one with the largest `created_ns`. `images_replaced` keeps
/// each record a build replaced, found only by its whole digest: processes and checkpoints
/// name the image they run by digest, and a rebuild must not take it from them.
const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS images (
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    digest     TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    tool_count INTEGER NOT NULL,
    record     TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS images_by_digest ON images (digest);
CREATE INDEX IF NOT EXISTS images_by_created ON images (name, created_ns);
CREATE TABLE IF NOT EXISTS images_replaced (
    digest     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    record     TEXT NOT NULL
) WITHOUT ROWID;
";

/// The columns [`crate::row::decode_row`] decodes, in order.
pub(crate) const IMAGE_COLUMNS: &str = "name, version, digest, created_ns, record";

/// Opens (creating if needed) the database: WAL journal, `synchronous=NORMAL`, the busy
/// timeout, and the `images` table present.
pub(crate) fn open(path: &Path) -> Result<Connection, ImageError> {
    Ok(libos_db::open(path, CREATE_TABLES)?)
}
