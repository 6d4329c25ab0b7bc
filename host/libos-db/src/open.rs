//! Opening a connection to the shared database.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::config::DbConfig;

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

/// Prepared statements a connection keeps.
pub const STATEMENT_CACHE: usize = 128;

/// WAL size (pages) at which a connection's commit also checkpoints, for the connection that
/// writes in the background (see [`checkpoint_here`]): SQLite's default.
pub const BACKGROUND_CHECKPOINT: u32 = 1000;

/// The same for every other connection: a fallback, ten times higher, so that checkpoints
/// (writing the WAL back into the database and `fsync`ing it) fall to the background writer
/// and not to a request's commit, such as starting a process.
pub const FOREGROUND_CHECKPOINT: u32 = 10 * BACKGROUND_CHECKPOINT;

/// Opens (creating if needed) the database at `path` with WAL journaling,
/// `synchronous=NORMAL` and [`BUSY_TIMEOUT`], then runs `schema`: the caller's own
/// `CREATE TABLE/INDEX IF NOT EXISTS` statements. Nothing else in the file is touched.
///
/// # Errors
/// [`OpenError::Sqlite`] if SQLite fails; [`OpenError::NotWal`] if WAL mode is refused.
pub fn open(path: &Path, schema: &str) -> Result<Connection, OpenError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode = switch_to_wal(&conn)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(schema)?;
    // Every statement a connection runs on a hot path is prepared once and kept; the default
    // cache (16) is smaller than the set one connection of the process table uses, so
    // statements were evicted and prepared again on every spawn.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // A kept statement must stay prepared: without the query planner stability guarantee,
    // SQLite prepares a statement again whenever a newly bound value might change its plan
    // (a bound LIMIT, statistics-driven estimates), which it did on nearly every spawn.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "wal_autocheckpoint", FOREGROUND_CHECKPOINT)?;
    Ok(conn)
}

/// Makes `conn` the one that checkpoints the WAL as it grows (at [`BACKGROUND_CHECKPOINT`]
/// pages): for a connection that commits often off any request's path, like the audit log's
/// writer thread.
///
/// # Errors
/// [`OpenError::Sqlite`] if SQLite refuses the setting.
pub fn checkpoint_here(conn: &Connection) -> Result<(), OpenError> {
    conn.pragma_update(None, "wal_autocheckpoint", BACKGROUND_CHECKPOINT)?;
    Ok(())
}

/// Sets WAL journaling. Switching a fresh file's journal mode needs an exclusive lock, and
/// SQLite reports `SQLITE_BUSY` at once (without its busy handler) when another connection
/// is opening the same file at that moment; retry for up to [`BUSY_TIMEOUT`].
fn switch_to_wal(conn: &Connection) -> Result<String, rusqlite::Error> {
    let started = Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}
