//! `libos:runtime/human`: waiting for a person's decision on an approval request, and
//! questions.

use std::time::Duration;

use libos::bindings::{LimitKind, RuntimeError};
use libos::wasm::parking::parking;
use libos_human::{HumanError, NewQuestion, Request, RequestKind, RequestState};
use libos_proctable::BlockedOn;

use crate::bindings::libos::runtime::human::Host;
use crate::ctx::ProcessCtx;

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

/// Longest request id accepted (ids are `req-` and a UUID).
const MAX_ID: usize = 128;

/// How a wait for a person ended.
pub(crate) enum Outcome {
    Decided(Box<Request>),
    TimedOut,
}

impl ProcessCtx {
    /// The request `id` if it is one of this process's (any other id reads as not one, so a
    /// process learns nothing about others' requests).
    fn own_request(&self, id: &str) -> Result<Request, RuntimeError> {
        let not_ours = || RuntimeError::Invalid(format!("{id:?} is not a request of this process"));
        if id.len() > MAX_ID {
            return Err(not_ours());
        }
        match self.kernel.human.get(id) {
            Ok(request) if request.pid == self.pid => Ok(request),
            Ok(_) | Err(HumanError::NoSuchRequest(_)) => Err(not_ours()),
            Err(e) => Err(RuntimeError::Io(format!("human queue: {e}"))),
        }
    }

    /// Waits, blocked on a person, until request `id` (this process's) is no longer pending
    /// or `timeout_ms` passes; a request past its expiry reads as expired.
    pub(crate) async fn wait_for_person(
        &mut self,
        id: &str,
        timeout_ms: Option<u64>,
    ) -> Result<Outcome, RuntimeError> {
        let deadline = timeout_ms.map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
        let kernel = std::sync::Arc::clone(&self.kernel);
        let mut waiting = None;
        let outcome = loop {
            let decided = kernel.human_waiters.decided();
            let request = match self.own_request(id) {
                Ok(request) => request,
                Err(e) => break Err(e),
            };
            if request.state != RequestState::Pending {
                break Ok(Outcome::Decided(Box::new(request)));
            }
            let now = tokio::time::Instant::now();
            if deadline.is_some_and(|d| d <= now) {
                break Ok(Outcome::TimedOut);
            }
            if waiting.is_none() {
                waiting = Some(kernel.human_waiters.enter());
                self.block(BlockedOn::Human(id.to_owned()));
            }
            // Wake at the next decision, at the deadline, or at the request's own expiry.
            let now_ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            let expires = Duration::from_nanos(request.expires_ns.saturating_sub(now_ns));
            let until = deadline.map_or(now + expires, |d| d.min(now + expires));
            let _ = tokio::time::timeout_at(until, decided).await;
        };
        if waiting.is_some() {
            self.unblock();
        }
        outcome
    }
}

impl Host for ProcessCtx {
    async fn request_approval(&mut self, id: String, timeout_ms: Option<u64>) -> R<()> {
        parking(self.wait_for_approval(id, timeout_ms)).await
    }

    async fn ask(
        &mut self,
        question: String,
        choices: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> R<String> {
        parking(self.ask_person(None, question, choices, timeout_ms)).await
    }
}

impl ProcessCtx {
    /// `human.request-approval`: blocked until a person decides request `id`.
    async fn wait_for_approval(&mut self, id: String, timeout_ms: Option<u64>) -> R<()> {
        match self.own_request(&id) {
            Ok(Request {
                kind: RequestKind::Approval { .. },
                ..
            }) => {}
            Ok(_) => {
                return Ok(Err(RuntimeError::Invalid(format!(
                    "{id} is a question, not an approval request"
                ))));
            }
            Err(e) => return Ok(Err(e)),
        }
        Ok(match self.wait_for_person(&id, timeout_ms).await {
            Err(e) => Err(e),
            Ok(Outcome::TimedOut) => Err(RuntimeError::LimitExceeded(LimitKind::Time)),
            Ok(Outcome::Decided(request)) => match request.state {
                RequestState::Approved { .. } => Ok(()),
                RequestState::Denied { reason } => Err(RuntimeError::Denied(format!(
                    "a person denied {id}{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ))),
                RequestState::Expired => Err(RuntimeError::Denied(format!(
                    "{id} expired without a decision"
                ))),
                other => Err(RuntimeError::Invalid(format!("{id} is {}", other.name()))),
            },
        })
    }

    /// `human.ask`: records the question, then blocked until a person answers it.
    pub(crate) async fn ask_person(
        &mut self,
        id: Option<String>,
        question: String,
        choices: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> R<String> {
        let digest = libos::call::digest(&[
            b"human.ask",
            question.as_bytes(),
            choices.join("\n").as_bytes(),
        ]);
        let permit = match self.call.permit("human.ask", "question", Some(&digest)) {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let new = NewQuestion {
            pid: self.pid,
            image: self.image.reference(),
            question,
            choices,
        };
        // Under the id given (a journaled ask keeps it before asking), once.
        let asked = match id {
            Some(id) => self
                .kernel
                .human
                .ask_once(&id, new, libos_human::Asker::Process),
            None => self.kernel.human.ask(new),
        };
        if asked.is_ok() {
            permit.done(None);
        }
        let id = match asked {
            Ok(request) => request.id,
            Err(HumanError::Invalid(m)) => return Ok(Err(RuntimeError::Invalid(m))),
            Err(e @ HumanError::TooManyWaiting { .. }) => {
                return Ok(Err(RuntimeError::Denied(e.to_string())));
            }
            Err(e) => return Ok(Err(RuntimeError::Io(format!("human queue: {e}")))),
        };
        Ok(match self.wait_for_person(&id, timeout_ms).await {
            Err(e) => Err(e),
            Ok(Outcome::TimedOut) => Err(RuntimeError::LimitExceeded(LimitKind::Time)),
            Ok(Outcome::Decided(request)) => match request.state {
                RequestState::Answered { answer } => Ok(answer),
                RequestState::Expired => Err(RuntimeError::Denied(format!(
                    "{id} expired without an answer"
                ))),
                other => Err(RuntimeError::Denied(format!("{id} was {}", other.name()))),
            },
        })
    }
}
