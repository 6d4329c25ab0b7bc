//! Opening a connection to the shared database.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// How long a connection waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the shared database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused to open the file, set it up, or run the schema.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The database would not switch to WAL journaling (e.g. on a file system without shared
    /// memory support), which concurrent `libos` processes rely on.
    #[error("database refused WAL journal mode (got {0})")]
    NotWal(String),
}

/// Opens (creating if needed) the database at `path` with WAL journaling,
/// `synchronous=NORMAL` and [`BUSY_TIMEOUT`], then runs `schema`: the caller's own
/// `CREATE TABLE/INDEX IF NOT EXISTS` statements. Nothing else in the file is touched.
///
/// # Errors
/// [`OpenError::Sqlite`] if SQLite fails; [`OpenError::NotWal`] if WAL mode is refused.
pub fn open(path: &Path, schema: &str) -> Result<Connection, OpenError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(schema)?;
    Ok(conn)
}
