//! Recording requests and questions, and reading them back.

use rusqlite::{Connection, OptionalExtension, params};

use super::expiry::expire_due;
use super::{HumanQueue, get, signed};
use crate::MAX_WAITING;
use crate::error::{HumanError, Result};
use crate::request::{
    self, Asked, Asker, COLUMNS, NewApproval, NewQuestion, Request, RequestState,
};
use crate::sql::{key, now_ns, plus};

impl HumanQueue {
    /// Records that `new` needs a person's approval, under `id` (the id of the `ask`
    /// decision's audit record; a fresh one if `None`). If exactly the same effect (process,
    /// action, resource, digest, version) already waits, returns that request instead, so a
    /// process asking again does not flood the queue.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn request(&self, id: Option<String>, new: NewApproval) -> Result<Asked> {
        self.note_asking(new.pid);
        let now = now_ns();
        let id = id.unwrap_or_else(request::new_id);
        let expires = plus(now, self.request_ttl);
        self.conn.immediate(|conn| {
            expire_due(conn, now)?;
            let waiting = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM human_requests
                     WHERE state = 'pending' AND kind = 'approval' AND pid = ?1
                       AND action = ?2 AND resource = ?3
                       AND COALESCE(args_digest, '') = COALESCE(?4, '')
                       AND COALESCE(target_version, '') = COALESCE(?5, '')"
                ))?
                .query_row(
                    params![
                        key(new.pid),
                        new.action,
                        new.resource,
                        new.args_digest,
                        new.target_version
                    ],
                    request::decode,
                )
                .optional()?;
            if let Some(waiting) = waiting {
                return Ok(Asked::Waiting(waiting));
            }
            check_room(conn, new.pid)?;
            conn.prepare_cached(
                "INSERT INTO human_requests (id, kind, pid, image, action, resource,
                     args_digest, target_version, preview, asked_because, state, created_ns,
                     expires_ns)
                 VALUES (?1, 'approval', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11)",
            )?
            .execute(params![
                id,
                key(new.pid),
                new.image,
                new.action,
                new.resource,
                new.args_digest,
                new.target_version,
                request::bounded_preview(&new.preview),
                new.asked_because,
                now,
                expires
            ])?;
            Ok(Asked::New(get(conn, &id)?))
        })
    }

    /// Records a question for a person (`human.ask`) and returns it.
    ///
    /// # Errors
    /// [`HumanError::Invalid`] for an empty or oversized question or bad choices;
    /// [`HumanError::Store`].
    pub fn ask(&self, new: NewQuestion) -> Result<Request> {
        self.ask_once(&request::new_id(), new, Asker::Process)
    }

    /// A fresh id for a question asked with [`HumanQueue::ask_once`].
    pub fn new_question_id() -> String {
        request::new_id()
    }

    /// Records the question `id` for a person, asked by `asker`, unless a request `id` exists
    /// already (pending, answered or closed): then returns that one, unchanged. A caller that
    /// keeps the id before asking (a journal) asks once however often it is interrupted.
    ///
    /// # Errors
    /// As [`HumanQueue::ask`]; [`HumanError::Invalid`] for an id that is not 1 to 128
    /// printable ASCII characters.
    pub fn ask_once(&self, id: &str, new: NewQuestion, asker: Asker) -> Result<Request> {
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HumanError::Invalid(format!("question id {id:?}")));
        }
        new.check()?;
        self.note_asking(new.pid);
        let now = now_ns();
        let choices = serde_json::to_string(&new.choices)
            .map_err(|e| HumanError::Invalid(format!("choices: {e}")))?;
        let (action, because) = match asker {
            Asker::Process => ("human.ask", "the process asked"),
            Asker::Host => (
                "effect.in-doubt",
                "the host asks: the process's host stopped in the middle of this effect",
            ),
        };
        self.conn.immediate(|conn| {
            match get(conn, id) {
                Ok(asked) => return Ok(asked),
                Err(HumanError::NoSuchRequest(_)) => {}
                Err(e) => return Err(e),
            }
            check_room(conn, new.pid)?;
            conn.prepare_cached(
                "INSERT INTO human_requests (id, kind, pid, image, action, resource, preview,
                     choices, asked_because, state, created_ns, expires_ns)
                 VALUES (?1, 'question', ?2, ?3, ?4, '', ?5, ?6, ?7, 'pending', ?8, ?9)",
            )?
            .execute(params![
                id,
                key(new.pid),
                new.image,
                action,
                new.question,
                choices,
                because,
                now,
                plus(now, self.request_ttl)
            ])?;
            get(conn, id)
        })
    }

    /// The request `id` (a pending one past its expiry reads as expired).
    ///
    /// # Errors
    /// [`HumanError::NoSuchRequest`], [`HumanError::Store`].
    pub fn get(&self, id: &str) -> Result<Request> {
        let request = get(&self.conn.lock(), id)?;
        // Read-only (a waiter polls this): a pending request past its time reads as
        // expired; the next change through the queue records it so.
        if request.state == RequestState::Pending && signed(request.expires_ns) <= now_ns() {
            return Ok(Request {
                state: RequestState::Expired,
                ..request
            });
        }
        Ok(request)
    }

    /// The pending requests, oldest first (expiring those past their time first).
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn pending(&self) -> Result<Vec<Request>> {
        self.conn.immediate(|conn| {
            expire_due(conn, now_ns())?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM human_requests WHERE state = 'pending'
                 ORDER BY created_ns, id"
            ))?;
            let rows = stmt.query_map([], request::decode)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Closes the pending requests of `pid`, which has ended and can no longer wait for or
    /// use a decision: they are recorded expired (decided by `host`, note "the process
    /// ended") and returned. A process that a host restart ended keeps its requests (only a
    /// host that saw it end calls this), so they can still be decided after the restart.
    /// Only requests made through this handle are closed; for a process that asked nothing
    /// through it this costs no database access (it runs at every process's end).
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn close_for(&self, pid: u64) -> Result<Vec<Request>> {
        let asked = self
            .asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&pid);
        if !asked {
            return Ok(Vec::new());
        }
        let now = now_ns();
        self.conn.immediate(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM human_requests WHERE state = 'pending' AND pid = ?1"
            ))?;
            let open = stmt
                .query_map(params![key(pid)], request::decode)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if open.is_empty() {
                return Ok(open);
            }
            conn.prepare_cached(
                "UPDATE human_requests SET state = 'expired', decided_by = 'host',
                     note = 'the process ended', decided_ns = ?2
                 WHERE state = 'pending' AND pid = ?1",
            )?
            .execute(params![key(pid), now])?;
            Ok(open
                .into_iter()
                .map(|r| Request {
                    state: RequestState::Expired,
                    ..r
                })
                .collect())
        })
    }

    /// Closes the pending requests of `pids`, processes a dead host left and that were
    /// marked failed when it was recovered: nothing can wait for or use a decision now. They
    /// are recorded expired (decided by `host`, note "the process's host was lost") and
    /// returned.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn close_lost(&self, pids: &[u64]) -> Result<Vec<Request>> {
        if pids.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ns();
        self.conn.immediate(|conn| {
            let mut select = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM human_requests WHERE state = 'pending' AND pid = ?1"
            ))?;
            let mut close = conn.prepare_cached(
                "UPDATE human_requests SET state = 'expired', decided_by = 'host',
                     note = 'the process''s host was lost', decided_ns = ?2
                 WHERE state = 'pending' AND pid = ?1",
            )?;
            let mut closed = Vec::new();
            for pid in pids {
                let open = select
                    .query_map(params![key(*pid)], request::decode)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                if open.is_empty() {
                    continue;
                }
                close.execute(params![key(*pid), now])?;
                closed.extend(open.into_iter().map(|r| Request {
                    state: RequestState::Expired,
                    ..r
                }));
            }
            Ok(closed)
        })
    }

    /// When the newest decision was made (0 if none yet), in nanoseconds since the Unix
    /// epoch: it only grows, so a host that sees it change knows some request was decided,
    /// from whichever terminal. One index lookup.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn last_decided(&self) -> Result<u64> {
        let newest: Option<i64> = self
            .conn
            .lock()
            .prepare_cached("SELECT MAX(decided_ns) FROM human_requests")?
            .query_row([], |row| row.get(0))?;
        Ok(newest.map_or(0, crate::sql::unsigned))
    }
}

/// Refuses a new request from `pid` if it has [`MAX_WAITING`] pending already.
fn check_room(conn: &Connection, pid: u64) -> Result<()> {
    let waiting: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM human_requests WHERE state = 'pending' AND pid = ?1")?
        .query_row(params![key(pid)], |row| row.get(0))?;
    if usize::try_from(waiting).unwrap_or(usize::MAX) >= MAX_WAITING {
        return Err(HumanError::TooManyWaiting {
            pid,
            limit: MAX_WAITING,
        });
    }
    Ok(())
}
