//! The queue itself: recording requests, deciding them, and what the decisions allow.

use std::path::Path;
use std::time::Duration;

use libos_db::SharedConnection;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{HumanError, Result};
use crate::grants::{self, Call, Grant};
use crate::request::{
    self, Asked, COLUMNS, MAX_TEXT, NewApproval, NewQuestion, Request, RequestKind, RequestState,
};
use crate::rules::{self, Rule, RuleEffect};
use crate::scope::Scope;
use crate::sql::{key, now_ns, plus, rfc3339};

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

/// How a decision ends: done, or refused because the request had expired (the expiry is
/// committed, then reported).
enum Decided<T> {
    Done(T),
    Expired(String),
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
        new.check()?;
        self.note_asking(new.pid);
        let now = now_ns();
        let id = request::new_id();
        let choices = serde_json::to_string(&new.choices)
            .map_err(|e| HumanError::Invalid(format!("choices: {e}")))?;
        self.conn.immediate(|conn| {
            check_room(conn, new.pid)?;
            conn.prepare_cached(
                "INSERT INTO human_requests (id, kind, pid, image, action, resource, preview,
                     choices, asked_because, state, created_ns, expires_ns)
                 VALUES (?1, 'question', ?2, ?3, 'human.ask', '', ?4, ?5,
                     'the process asked', 'pending', ?6, ?7)",
            )?
            .execute(params![
                id,
                key(new.pid),
                new.image,
                new.question,
                choices,
                now,
                plus(now, self.request_ttl)
            ])?;
            get(conn, &id)
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

    /// Records the pending requests past their expiry as expired and returns them.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn expire_due(&self) -> Result<Vec<Request>> {
        self.conn.immediate(|conn| expire_due(conn, now_ns()))
    }

    /// Approves the approval request `id` with `scope` (and a note), by `by`, and returns it
    /// with the grant it minted.
    ///
    /// # Errors
    /// [`HumanError::NoSuchRequest`]; [`HumanError::AlreadyDecided`] if it was decided
    /// before (twice is an error, not a second grant); [`HumanError::Expired`];
    /// [`HumanError::WrongKind`] for a question; [`HumanError::Store`].
    pub fn approve(
        &self,
        id: &str,
        scope: Scope,
        note: Option<&str>,
        by: &str,
    ) -> Result<(Request, Grant)> {
        let note = bounded(note)?;
        self.decide(id, "approval", |conn, request, now| {
            set_state(
                conn,
                id,
                "approved",
                Some(&scope.to_string()),
                note,
                by,
                now,
            )?;
            let grant = grants::mint(conn, request, scope, now)?;
            Ok((get(conn, id)?, grant))
        })
    }

    /// Approves the approval request `id` and stores an `always` rule for its image, action
    /// and `pattern` (its resource if `None`), so the same question is not asked again.
    ///
    /// # Errors
    /// As [`HumanQueue::approve`]; [`HumanError::Invalid`] for a bad pattern.
    pub fn always(
        &self,
        id: &str,
        pattern: Option<&str>,
        note: Option<&str>,
        by: &str,
    ) -> Result<(Request, Rule)> {
        self.standing(id, pattern, RuleEffect::Always, note, by)
    }

    /// Denies the approval request `id` and stores a `never` rule for its image, action and
    /// `pattern` (its resource if `None`).
    ///
    /// # Errors
    /// As [`HumanQueue::deny`]; [`HumanError::Invalid`] for a bad pattern.
    pub fn never(
        &self,
        id: &str,
        pattern: Option<&str>,
        reason: Option<&str>,
        by: &str,
    ) -> Result<(Request, Rule)> {
        self.standing(id, pattern, RuleEffect::Never, reason, by)
    }

    /// Denies the approval request `id` (with a reason), by `by`.
    ///
    /// # Errors
    /// As [`HumanQueue::approve`].
    pub fn deny(&self, id: &str, reason: Option<&str>, by: &str) -> Result<Request> {
        let reason = bounded(reason)?;
        self.decide(id, "approval", |conn, _, now| {
            set_state(conn, id, "denied", None, reason, by, now)?;
            get(conn, id)
        })
    }

    /// Answers the question `id` with `answer` (one of its choices, if it offered any).
    ///
    /// # Errors
    /// [`HumanError::NotAChoice`]; otherwise as [`HumanQueue::approve`], with
    /// [`HumanError::WrongKind`] for an approval request.
    pub fn answer(&self, id: &str, answer: &str, by: &str) -> Result<Request> {
        let answer = bounded(Some(answer))?.unwrap_or_default();
        self.decide(id, "question", |conn, request, now| {
            if let RequestKind::Question { choices, .. } = &request.kind
                && !choices.is_empty()
                && !choices.iter().any(|c| c == answer)
            {
                return Err(HumanError::NotAChoice {
                    id: id.to_owned(),
                    answer: answer.to_owned(),
                    choices: choices.join(", "),
                });
            }
            set_state(conn, id, "answered", None, Some(answer), by, now)?;
            get(conn, id)
        })
    }

    /// The grant that covers `call` now, if any, without using it.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn covering(&self, call: &Call<'_>) -> Result<Option<Grant>> {
        grants::covering(&self.conn.lock(), call, now_ns())
    }

    /// Takes one use of a grant covering `call`, before the effect: `Some` means the call is
    /// approved. Give the use back with [`HumanQueue::give_back`] if the effect fails.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn take(&self, call: &Call<'_>) -> Result<Option<Grant>> {
        let now = now_ns();
        // An unlimited grant (ttl, session) has no use to take: a read is enough.
        match grants::covering(&self.conn.lock(), call, now)? {
            None => return Ok(None),
            Some(grant) if grant.uses_left.is_none() => return Ok(Some(grant)),
            Some(_) => {}
        }
        self.conn.immediate(|conn| {
            let Some(grant) = grants::covering(conn, call, now)? else {
                return Ok(None);
            };
            if grants::take(conn, grant.id)? {
                Ok(Some(grants::get(conn, grant.id)?))
            } else {
                Ok(None)
            }
        })
    }

    /// Gives back the use of grant `id` taken for an effect that failed.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn give_back(&self, id: u64) -> Result<()> {
        self.conn.immediate(|conn| grants::give_back(conn, id))
    }

    /// Records that the effect covered by grant `id` left its target at `version`, so the
    /// grant's further uses (if any) cover the target as that effect left it.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn advance(&self, id: u64, version: Option<&str>) -> Result<()> {
        self.conn
            .immediate(|conn| grants::advance(conn, id, version))
    }

    /// Every grant minted for `pid`, oldest first (used up ones included).
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn grants(&self, pid: u64) -> Result<Vec<Grant>> {
        grants::of_process(&self.conn.lock(), pid)
    }

    /// The standing answer for `action` on `resource` by a process of `image`, if a rule
    /// gives one (`never` wins over `always`).
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn rule_for(&self, image: &str, action: &str, resource: &str) -> Result<Option<Rule>> {
        rules::find(&self.conn.lock(), image, action, resource)
    }

    /// Every rule, oldest first.
    ///
    /// # Errors
    /// [`HumanError::Store`].
    pub fn rules(&self) -> Result<Vec<Rule>> {
        rules::all(&self.conn.lock())
    }

    /// Removes rule `id` and returns it.
    ///
    /// # Errors
    /// [`HumanError::NoSuchRule`], [`HumanError::Store`].
    pub fn remove_rule(&self, id: u64) -> Result<Rule> {
        self.conn.immediate(|conn| rules::remove(conn, id))
    }

    fn note_asking(&self, pid: u64) {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(pid);
    }

    fn standing(
        &self,
        id: &str,
        pattern: Option<&str>,
        effect: RuleEffect,
        note: Option<&str>,
        by: &str,
    ) -> Result<(Request, Rule)> {
        let note = bounded(note)?;
        self.decide(id, "approval", |conn, request, now| {
            let RequestKind::Approval {
                action, resource, ..
            } = &request.kind
            else {
                return Err(HumanError::Invalid(format!("{id} is a question")));
            };
            let pattern = pattern.unwrap_or(resource);
            if !rules::covers(action, pattern, resource) {
                return Err(HumanError::Invalid(format!(
                    "pattern {pattern:?} does not cover {resource:?}, the resource asked about"
                )));
            }
            let rule = rules::add(
                conn,
                (&request.image, action, pattern),
                effect,
                (Some(id), Some(by)),
                now,
            )?;
            let (state, scope) = match effect {
                RuleEffect::Always => ("approved", Some("always")),
                RuleEffect::Never => ("denied", None),
            };
            set_state(conn, id, state, scope, note, by, now)?;
            Ok((get(conn, id)?, rule))
        })
    }

    /// Runs `body` on the pending request `id` of kind `wanted` in one transaction; refuses a
    /// missing, decided, expired (recording the expiry) or other-kind request.
    fn decide<T>(
        &self,
        id: &str,
        wanted: &'static str,
        body: impl FnOnce(&Connection, &Request, i64) -> Result<T>,
    ) -> Result<T> {
        let now = now_ns();
        let decided = self.conn.immediate(|conn| {
            let request = get(conn, id)?;
            let is = match request.kind {
                RequestKind::Approval { .. } => "approval",
                RequestKind::Question { .. } => "question",
            };
            if is != wanted {
                return Err(HumanError::WrongKind {
                    id: id.to_owned(),
                    is: article(is),
                    wanted: article(wanted),
                });
            }
            match request.state {
                RequestState::Pending => {}
                RequestState::Expired if request.decided_by.as_deref() == Some("host") => {
                    return Err(HumanError::Closed {
                        id: id.to_owned(),
                        pid: request.pid,
                    });
                }
                RequestState::Expired => {
                    return Ok(Decided::Expired(rfc3339(signed(request.expires_ns))));
                }
                other => {
                    return Err(HumanError::AlreadyDecided {
                        id: id.to_owned(),
                        state: other.name().to_owned(),
                    });
                }
            }
            if signed(request.expires_ns) <= now {
                conn.prepare_cached("UPDATE human_requests SET state = 'expired' WHERE id = ?1")?
                    .execute(params![id])?;
                return Ok(Decided::Expired(rfc3339(signed(request.expires_ns))));
            }
            body(conn, &request, now).map(Decided::Done)
        })?;
        match decided {
            Decided::Done(out) => Ok(out),
            Decided::Expired(at) => Err(HumanError::Expired {
                id: id.to_owned(),
                at,
            }),
        }
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

fn article(kind: &str) -> &'static str {
    if kind == "question" {
        "a question"
    } else {
        "an approval request"
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

fn set_state(
    conn: &Connection,
    id: &str,
    state: &str,
    scope: Option<&str>,
    note: Option<&str>,
    by: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE human_requests SET state = ?2, scope = ?3, note = ?4, decided_by = ?5,
             decided_ns = ?6
         WHERE id = ?1 AND state = 'pending'",
    )?
    .execute(params![id, state, scope, note, by, now])?;
    Ok(())
}

/// Records every pending request past its expiry as expired; returns them.
fn expire_due(conn: &Connection, now: i64) -> Result<Vec<Request>> {
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
