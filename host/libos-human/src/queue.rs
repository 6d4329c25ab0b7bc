//! The queue itself: the handle on the state directory's human tables. Its operations are
//! split by what they touch: [`requests`] (recording and reading requests), [`decisions`]
//! (a person deciding them), [`grant_use`] (what an approval lets through), [`standing`]
//! (remembered answers) and [`expiry`] (requests nobody decided in time).

mod decisions;
mod expiry;
mod grant_use;
mod requests;
mod standing;

use std::path::Path;
use std::time::Duration;

use libos_db::SharedConnection;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{HumanError, Result};
use crate::request::{self, COLUMNS, MAX_TEXT, Request};

/// Most requests (approvals and questions) one process may have waiting at once: a process
/// cannot flood the people who decide.
pub const MAX_WAITING: usize = 64;

/// How long a request waits for a decision before it expires, unless set otherwise.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::from_secs(24 * 3600);

/// The persisted human queue of a state directory. Every operation is one transaction, so
/// two terminals deciding the same request cannot both succeed.
pub struct HumanQueue {
    conn: SharedConnection,
    request_ttl: Duration,
    /// Processes that made a request through this handle (see [`HumanQueue::close_for`]).
    asked: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl HumanQueue {
    /// Opens the queue in the database at `db_path` (the state directory's `libos.db`),
    /// creating its tables if needed.
    ///
    /// # Errors
    /// [`HumanError::Store`] if the database cannot be opened.
    pub fn open(db_path: impl AsRef<Path>) -> Result<Self> {
        Ok(HumanQueue {
            conn: SharedConnection::new(crate::schema::open(db_path.as_ref())?),
            request_ttl: DEFAULT_REQUEST_TTL,
            asked: std::sync::Mutex::default(),
        })
    }

    /// The same queue with requests made from now on expiring after `ttl` without decision.
    pub fn with_request_ttl(mut self, ttl: Duration) -> Self {
        self.request_ttl = ttl;
        self
    }

    fn note_asking(&self, pid: u64) {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(pid);
    }
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `text` if it is at most [`MAX_TEXT`] bytes.
fn bounded(text: Option<&str>) -> Result<Option<&str>> {
    match text {
        Some(t) if t.len() > MAX_TEXT => Err(HumanError::Invalid(format!(
            "a note, reason or answer is at most {MAX_TEXT} bytes"
        ))),
        other => Ok(other),
    }
}

fn get(conn: &Connection, id: &str) -> Result<Request> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM human_requests WHERE id = ?1"
    ))?
    .query_row(params![id], request::decode)
    .optional()?
    .ok_or_else(|| HumanError::NoSuchRequest(id.to_owned()))
}
