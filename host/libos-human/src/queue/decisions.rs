//! A person deciding a request: approve (with a scope), deny, answer; each one transaction.

use rusqlite::{Connection, params};

use super::{HumanQueue, bounded, get, signed};
use crate::error::{HumanError, Result};
use crate::grants::{self, Grant};
use crate::request::{Request, RequestKind, RequestState};
use crate::rules::{self, Rule, RuleEffect};
use crate::scope::Scope;
use crate::sql::{now_ns, rfc3339};

/// How a decision ends: done, or refused because the request had expired (the expiry is
/// committed, then reported).
enum Decided<T> {
    Done(T),
    Expired(String),
}

impl HumanQueue {
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
    pub(super) fn decide<T>(
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

fn article(kind: &str) -> &'static str {
    if kind == "question" {
        "a question"
    } else {
        "an approval request"
    }
}

pub(super) fn set_state(
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
