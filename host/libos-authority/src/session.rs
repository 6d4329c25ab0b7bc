//! A session: one caller's handle on a shared [`Authority`].

use std::sync::Arc;

use libos_audit::{AuditRecord, Decided};

use crate::authority::{Authority, Request};
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
    last: Option<(Arc<Decided>, Option<[u8; 32]>)>,
    pending: Vec<AuditRecord>,
}

/// Records a session holds before handing them to the audit sink in one go.
pub const SESSION_BATCH: usize = 32;

impl Session {
    /// A session on `authority`, remembering nothing yet.
    pub fn new(authority: Arc<Authority>) -> Self {
        Session {
            authority,
            last: None,
            pending: Vec::new(),
        }
    }

    /// The authority this session decides with.
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }

    /// [`Authority::authorize`], answered from this session's last decision when `req`
    /// repeats it.
    pub fn authorize(&mut self, req: &Request<'_>) -> Result<(), Refusal> {
        let key = self.authority.key(req);
        let decided = match &self.last {
            Some((decided, digest)) if key.names(decided, digest.as_ref()) => Arc::clone(decided),
            _ => {
                let decided = self.authority.lookup(req);
                self.last = Some((Arc::clone(&decided), key.digest.copied()));
                decided
            }
        };
        let pending = &mut self.pending;
        let outcome = self
            .authority
            .conclude(decided, req, |record| pending.push(record));
        if self.pending.len() >= SESSION_BATCH {
            self.hand_off();
        }
        outcome
    }

    /// Hands the records this session holds to the audit sink. Called by the session itself
    /// every [`SESSION_BATCH`] records and when it is dropped; callers call it before the
    /// caller may stay idle (at a time slice boundary, before parking), so a record never
    /// waits in a session longer than that.
    pub fn hand_off(&mut self) {
        if !self.pending.is_empty() {
            self.authority.audit().append_all(&mut self.pending);
        }
    }

    /// [`Authority::check`]: the full decision, audited (after the records this session
    /// holds, so the log keeps the caller's order).
    pub fn check(&mut self, req: &Request<'_>) -> Decision {
        self.hand_off();
        self.authority.check(req)
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
