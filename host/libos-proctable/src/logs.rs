//! The persisted log of every process: what it wrote through the `log` primitive (and its
//! captured stdout/stderr), readable with `libos logs` from any terminal while it runs.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::error::{KernelError, Result};
use crate::sql::{now_ns, pid_key};

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// The process.
    pub pid: u64,
    /// Position in the process's log, from 1.
    pub seq: u64,
    /// `trace`, `debug`, `info`, `warn`, `error`, `stdout` or `stderr`.
    pub level: String,
    /// The text.
    pub message: String,
    /// When it was stored (nanoseconds since the Unix epoch).
    pub time_ns: i64,
}

/// Most lines kept per process: appending more drops the oldest, so a process that logs in a
/// loop cannot grow the database without bound.
pub const MAX_LINES: u64 = 10_000;

/// Appends `lines` (level, message) to the log of `pid`, keeping its newest [`MAX_LINES`].
pub(crate) fn append(conn: &Connection, pid: u64, lines: &[(&str, &str)]) -> Result<()> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let mut seq: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM process_logs WHERE pid = ?1")?
        .query_row(params![key], |row| row.get(0))?;
    let now = now_ns();
    let mut insert = conn.prepare_cached(
        "INSERT INTO process_logs (pid, seq, level, message, time_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (level, message) in lines {
        seq += 1;
        insert.execute(params![key, seq, level, message, now])?;
    }
    let keep_after = seq - i64::try_from(MAX_LINES).unwrap_or(i64::MAX);
    if keep_after > 0 {
        conn.prepare_cached("DELETE FROM process_logs WHERE pid = ?1 AND seq <= ?2")?
            .execute(params![key, keep_after])?;
    }
    Ok(())
}

/// The log lines of `pid` after position `after`, oldest first.
pub(crate) fn read(conn: &Connection, pid: u64, after: u64) -> Result<Vec<LogRecord>> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, level, message, time_ns FROM process_logs
         WHERE pid = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map(params![key, after], |row| {
            Ok(LogRecord {
                pid,
                seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                level: row.get(1)?,
                message: row.get(2)?,
                time_ns: row.get(3)?,
            })
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(rows)
}
