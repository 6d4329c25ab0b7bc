//! The check for a damaged log, made once when a log is opened for appending.
//!
//! Appending touches only the newest pages of the `audit` table, so a page destroyed in the
//! middle of the log would go unnoticed while records keep being added after it. When a log is
//! opened, a thread of its own runs SQLite's `quick_check` on the `audit` table (every page of
//! it read once: about 0.4 s per 500,000 records on the reference machine) on a read-only
//! connection, off every request's path; if it finds damage, the log reports itself failing
//! from then on ([`crate::AuditSink::failing`]), so every decision fails closed and says why.
//! A short-lived host may end before the check does; `libos audit verify` walks the whole chain
//! anyway.

use std::path::Path;
use std::sync::Arc;

use crate::queue::Queue;

/// Starts the check of the log at `db_path`; damage found is reported to `queue`.
pub(crate) fn check_in_background(db_path: &Path, queue: Arc<Queue>) {
    let path = db_path.to_path_buf();
    let started = std::thread::Builder::new()
        .name("libos-audit-check".into())
        .spawn(move || {
            if let Some(why) = damage(&path) {
                tracing::error!(path = %path.display(), %why, "the audit log is damaged; every decision is refused");
                queue.set_damaged(format!("the audit log is damaged ({why}); see `libos audit verify`"));
            }
        });
    if let Err(error) = started {
        tracing::warn!(%error, "the audit log's damage check could not be started");
    }
}

/// What `quick_check` finds wrong with the `audit` table of `db_path`, if anything. Only
/// damage counts: a log that cannot be read for another reason (busy past the timeout, no
/// permission) is left to the writer and to `libos audit verify`.
fn damage(db_path: &Path) -> Option<String> {
    let conn = match crate::schema::open_read_only(db_path) {
        Ok(Some(conn)) => conn,
        Ok(None) => return None,
        Err(e) if e.is_damage() => return Some(e.to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "the audit log's damage check could not open it");
            return None;
        }
    };
    let found: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check(audit)")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get::<_, String>(0))?.collect());
    match found {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => None,
        Ok(lines) => Some(lines.into_iter().take(3).collect::<Vec<_>>().join("; ")),
        Err(e) => {
            let e = crate::AuditError::from(e);
            if e.is_damage() {
                Some(e.to_string())
            } else {
                tracing::warn!(error = %e, "the audit log's damage check did not finish");
                None
            }
        }
    }
}
