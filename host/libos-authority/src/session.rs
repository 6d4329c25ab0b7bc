//! A session: one caller's handle on a shared [`Authority`].

use std::sync::Arc;

use libos_audit::{AuditRecord, Decided};

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
    last: Option<(Arc<Decided>, Option<[u8; 32]>)>,
    /// The records held for the sink, in order: each run of records shares one decision.
    runs: Vec<Run>,
    /// What varies per record, in order; run `i` covers `marks[runs[i].start..runs[i+1].start]`.
    marks: Vec<Mark>,
    /// Where held records are assembled at a hand-off (kept for its capacity).
    out: Vec<AuditRecord>,
}

/// Consecutive held records of the same decision.
///
/// A guest repeating a call repeats its decision; holding that decision once per run instead
/// of once per record keeps the shared reference count of the decision out of the hot path,
/// where the audit writer thread, dropping earlier records, would contend for it.
#[derive(Debug)]
struct Run {
    decided: Arc<Decided>,
    start: usize,
}

/// The part of a held record that is not its decision.
#[derive(Debug)]
struct Mark {
    time_ns: i64,
    request_id: Option<String>,
    args_digest: Option<[u8; 32]>,
}

/// Records a session holds before handing them to the audit sink in one go.
pub const SESSION_BATCH: usize = 32;

impl Session {
    /// A session on `authority`, remembering nothing yet.
    pub fn new(authority: Arc<Authority>) -> Self {
        Session {
            authority,
            last: None,
            runs: Vec::new(),
            marks: Vec::new(),
            out: Vec::new(),
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
        let (decided, repeat) = match &self.last {
            Some((decided, digest)) if key.names(decided, digest.as_ref()) => (decided, true),
            _ => {
                let decided = self.authority.lookup(req);
                let last = self.last.insert((decided, key.digest.copied()));
                (&last.0, false)
            }
        };
        let (outcome, request_id) = authority::outcome(decided);
        // The last held record was made by this function from `last`, unless `last` has just
        // changed: a repeat then extends the current run.
        if !repeat || self.marks.is_empty() {
            self.runs.push(Run {
                decided: Arc::clone(decided),
                start: self.marks.len(),
            });
        }
        self.marks.push(Mark {
            time_ns: libos_audit::clock::now_ns(),
            request_id,
            args_digest: req.args_digest.copied(),
        });
        if self.marks.len() >= SESSION_BATCH {
            self.hand_off();
        }
        outcome
    }

    /// Hands the records this session holds to the audit sink. Called by the session itself
    /// every [`SESSION_BATCH`] records and when it is dropped; callers call it before the
    /// caller may stay idle (at a time slice boundary, before parking), so a record never
    /// waits in a session longer than that.
    pub fn hand_off(&mut self) {
        if self.marks.is_empty() {
            return;
        }
        let mut marks = self.marks.drain(..);
        let mut runs = self.runs.drain(..).peekable();
        while let Some(run) = runs.next() {
            let end = runs.peek().map_or(usize::MAX, |next| next.start);
            let mut index = run.start;
            while index < end {
                let Some(mark) = marks.next() else { break };
                self.out.push(AuditRecord {
                    time_ns: mark.time_ns,
                    decided: Arc::clone(&run.decided),
                    request_id: mark.request_id,
                    args_digest: mark
                        .args_digest
                        .map(|d| libos_audit::chain::hex_into(&d, &mut [0; 64]).to_owned()),
                });
                index += 1;
            }
        }
        drop(marks);
        self.authority.audit().append_all(&mut self.out);
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
