//! A session: one caller's handle on a shared [`Authority`].

use std::sync::Arc;

use libos_audit::{Batch, Decided, Verdict};

use crate::authority::{self, Authority, Request};
use crate::decision::{Decision, Refusal};

/// One caller's (one call's, one process's) handle on an [`Authority`] that may be shared
/// with other callers.
///
/// It decides exactly like the authority — same verdicts, one audit record per decision — and
/// remembers the last request it decided, so a caller repeating a request (a guest calling the
/// same primitive in a loop) is answered without touching the shared cache and its locks. It
/// hands its audit records to the sink in batches of up to [`SESSION_BATCH`], and always when
/// dropped or told to ([`Session::hand_off`]); the records keep the caller's order.
/// Nothing a session remembers outlives what the authority would have cached: the authority's
/// capabilities and policy cannot change under it.
#[derive(Debug)]
pub struct Session {
    authority: Arc<Authority>,
    last: Option<Memo>,
    /// The records held for the sink, in order.
    held: Batch,
}

/// The last decision of a session, with copies of what answering a repeat of it reads.
///
/// A repeat is recognised and answered from the memo alone: the shared [`Decided`] is neither
/// dereferenced nor cloned. Its reference count sits in the same cache line as its fields,
/// and the audit writer thread changes that count for every record it builds; reading the
/// line on every call would make each call wait for it to come back from the writer's core.
#[derive(Debug)]
struct Memo {
    decided: Arc<Decided>,
    subject: Arc<str>,
    action: Arc<str>,
    resource: Arc<str>,
    digest: Option<[u8; 32]>,
    verdict: Verdict,
}

impl Memo {
    fn new(decided: Arc<Decided>, digest: Option<[u8; 32]>) -> Self {
        Memo {
            subject: Arc::clone(&decided.subject),
            action: Arc::clone(&decided.action),
            resource: Arc::clone(&decided.resource),
            verdict: decided.verdict,
            digest,
            decided,
        }
    }

    /// Whether `req` (with the digest its cache key takes part in) repeats this decision.
    fn repeats(&self, req: &Request<'_>, digest: Option<&[u8; 32]>) -> bool {
        *self.action == *req.action
            && *self.resource == *req.resource
            && *self.subject == *req.subject
            && digest == self.digest.as_ref()
    }
}

/// Records a session holds before handing them to the audit sink in one go.
pub const SESSION_BATCH: usize = 32;

impl Session {
    /// A session on `authority`, remembering nothing yet.
    pub fn new(authority: Arc<Authority>) -> Self {
        Session {
            authority,
            last: None,
            held: Batch::default(),
        }
    }

    /// The authority this session decides with.
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// [`Authority::authorize`], answered from this session's last decision when `req`
    /// repeats it. The audit record is held in a [`Batch`], where the records of a repeated
    /// decision share it without touching its reference count.
    pub fn authorize(&mut self, req: &Request<'_>) -> Result<(), Refusal> {
        let key = self.authority.key(req);
        let memo = match &self.last {
            Some(memo) if memo.repeats(req, key.digest) => memo,
            _ => {
                let decided = self.authority.lookup(req);
                self.last.insert(Memo::new(decided, key.digest.copied()))
            }
        };
        let decided = &memo.decided;
        let (outcome, request_id) = match memo.verdict {
            // The common case, answered without touching `decided`.
            Verdict::Allow => (Ok(()), None),
            Verdict::Deny | Verdict::Ask => authority::outcome(decided),
        };
        if self.held.is_empty() {
            self.held.reserve(SESSION_BATCH);
        }
        self.held.push(
            decided,
            libos_audit::clock::now_ns(),
            request_id,
            req.args_digest,
            req.detail.map(str::to_owned),
        );
        if self.held.len() >= SESSION_BATCH {
            self.hand_off();
        }
        outcome
    }

    /// [`Session::authorize`] for a caller that consults people when the policy asks: an
    /// allow or a deny is recorded as there, but an ask is not yet. Its record is made by
    /// [`Session::record_asked`] once the caller knows which approval request answers it (the
    /// one it creates, one already waiting, or the request behind a grant or a standing rule),
    /// so no record names a request that does not exist.
    pub fn authorize_or_defer(&mut self, req: &Request<'_>) -> Result<(), Deferral> {
        let decided = self.authority.lookup(req);
        if decided.verdict != Verdict::Ask {
            return self.authorize(req).map_err(|refusal| match refusal {
                Refusal::Denied { reason } => Deferral::Denied(reason),
                // Unreachable (the verdict is not ask); refuse rather than let it through.
                Refusal::NeedsApproval { reason, .. } => Deferral::Denied(reason),
            });
        }
        Err(Deferral::Asked(AskedDecision {
            reason: Arc::clone(&decided.reason),
            decided,
            args_digest: req.args_digest.copied(),
            detail: req.detail.map(str::to_owned),
        }))
    }

    /// Records an ask [`Session::authorize_or_defer`] left unrecorded, naming `request_id`:
    /// the approval request that answers it, if any.
    pub fn record_asked(&mut self, asked: AskedDecision, request_id: Option<String>) {
        self.held.push(
            &asked.decided,
            libos_audit::clock::now_ns(),
            request_id,
            asked.args_digest.as_ref(),
            asked.detail,
        );
        if self.held.len() >= SESSION_BATCH {
            self.hand_off();
        }
    }

    /// Hands the records this session holds to the audit sink. Called by the session itself
    /// every [`SESSION_BATCH`] records and when it is dropped; callers call it before the
    /// caller may stay idle (at a time slice boundary, before parking), so a record never
    /// waits in a session longer than that.
    pub fn hand_off(&mut self) {
        if !self.held.is_empty() {
            self.authority.audit().append_batch(&mut self.held);
        }
    }

    /// Hands the records this session holds off and waits until they and every record
    /// queued before them are stored (see [`libos_audit::AuditSink::store`]): call it before
    /// an effect that must not happen unrecorded.
    ///
    /// # Errors
    /// Why the records could not be stored (the effect must not happen).
    pub fn store(&mut self) -> Result<(), String> {
        self.hand_off();
        self.authority.audit().store()
    }

    /// [`Session::store`] without waiting: hands the held records off and has `done` called
    /// with the outcome once they and every record queued before them are stored (see
    /// [`libos_audit::AuditSink::store_then`]). `done` must not block.
    pub fn store_then(&mut self, done: libos_audit::StoreDone) {
        // The held records and the flush go to the writer together: the outcome is theirs.
        self.authority
            .audit()
            .store_batch_then(&mut self.held, done);
    }

    /// Why the audit log cannot be written now, if it cannot (see
    /// [`libos_audit::AuditSink::failing`]): callers refuse to decide anything meanwhile.
    pub fn audit_failing(&self) -> Option<String> {
        self.authority.audit().failing()
    }

    /// [`Authority::check`]: the full decision, audited (after the records this session
    /// holds, so the log keeps the caller's order).
    pub fn check(&mut self, req: &Request<'_>) -> Decision {
        self.hand_off();
        self.authority.check(req)
    }

    /// [`Authority::record_human`], after the records this session holds.
    pub fn record_human(
        &mut self,
        req: &Request<'_>,
        verdict: Verdict,
        reason: &str,
        request_id: Option<String>,
    ) {
        self.hand_off();
        self.authority
            .record_human(req, verdict, reason, request_id);
    }

    /// [`Authority::refuse`]: records a refusal decided before any capability or policy
    /// (after the records this session holds).
    pub fn refuse(&mut self, req: &Request<'_>, reason: &str) -> Decision {
        self.hand_off();
        self.authority.refuse(req, reason)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.hand_off();
    }
}

/// Why [`Session::authorize_or_defer`] did not let a request through.
#[derive(Debug)]
pub enum Deferral {
    /// Refused (recorded).
    Denied(Arc<str>),
    /// The policy asks; the decision is not recorded yet (see [`Session::record_asked`]).
    Asked(AskedDecision),
}

/// An ask decision whose record waits for the approval request that answers it.
#[derive(Debug)]
#[must_use = "an ask is recorded with `Session::record_asked`"]
pub struct AskedDecision {
    decided: Arc<libos_audit::Decided>,
    args_digest: Option<[u8; 32]>,
    detail: Option<String>,
    /// Which policies asked, and for what.
    pub reason: Arc<str>,
}
