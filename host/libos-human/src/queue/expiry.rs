//! Requests nobody decided in time.

use rusqlite::{Connection, params};

use super::HumanQueue;
use crate::error::Result;
use crate::request::{self, COLUMNS, Request, RequestState};
use crate::sql::now_ns;

impl HumanQueue {
    /// Records the pending requests past their expiry as expired and returns them.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn expire_due(&self) -> Result<Vec<Request>> {
        self.conn.immediate(|conn| expire_due(conn, now_ns()))
    }
}

/// Records every pending request past its expiry as expired; returns them.
pub(super) fn expire_due(conn: &Connection, now: i64) -> Result<Vec<Request>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM human_requests WHERE state = 'pending' AND expires_ns <= ?1"
    ))?;
    let due = stmt
        .query_map(params![now], request::decode)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if !due.is_empty() {
        conn.prepare_cached(
            "UPDATE human_requests SET state = 'expired'
             WHERE state = 'pending' AND expires_ns <= ?1",
        )?
        .execute(params![now])?;
    }
    Ok(due
        .into_iter()
        .map(|r| Request {
            state: RequestState::Expired,
            ..r
        })
        .collect())
}
