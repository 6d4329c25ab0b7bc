//! The authority: the one choke point every runtime primitive goes through.

use std::sync::Arc;

use cedar_policy::Authorizer;
use libos_audit::{AuditRecord, AuditSink, Decided, Verdict};

use crate::cache::{CacheKey, DEFAULT_CAPACITY, VerdictCache};
use crate::capability::CapabilitySet;
use crate::decision::{Decision, Refusal};
use crate::evaluate::Evaluator;
use crate::explain::Explanation;
use crate::policy::Policy;

/// One request to perform `action` on `resource` on behalf of `subject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Who asks, e.g. `tool:word_count`; the Cedar principal `Subject::"<subject>"`.
    pub subject: &'a str,
    /// The primitive, e.g. `fs.read`.
    pub action: &'a str,
    /// What it acts on, e.g. `docs/readme.md`. Callers pass normalized resources; a `..`
    /// segment is always denied.
    pub resource: &'a str,
    /// SHA-256 of the call's arguments, when it has any; audited as hex and visible to
    /// policies as `context.digest`.
    pub args_digest: Option<&'a [u8; 32]>,
    /// What the record shows of the call beyond its resource (a shell command's argv), if
    /// the primitive says; recorded, never decided on.
    pub detail: Option<&'a str>,
}

/// The authority for one subject: its capabilities, the policy, and the audit sink.
///
/// [`Authority::check`] decides every request in two layers (capabilities, then the Cedar
/// policy) and appends exactly one audit record per decision. Verdicts are cached per
/// (subject, action, resource) — plus the digest when the policy mentions `digest` — in a
/// bounded map, so repeated checks skip Cedar entirely; `Ask` decisions still get a fresh
/// request id each time.
pub struct Authority {
    caps: CapabilitySet,
    ceiling: Option<CapabilitySet>,
    policy: Arc<Policy>,
    audit: Arc<dyn AuditSink>,
    authorizer: Authorizer,
    cache: VerdictCache,
    explain_subject: String,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("caps", &self.caps)
            .field("policy", &self.policy.origin())
            .field("cached_verdicts", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// An authority deciding with `subject_caps` and `policy`, auditing to `audit`.
    pub fn new(
        subject_caps: CapabilitySet,
        policy: Arc<Policy>,
        audit: Arc<dyn AuditSink>,
    ) -> Self {
        Authority {
            caps: subject_caps,
            ceiling: None,
            policy,
            audit,
            authorizer: Authorizer::new(),
            cache: VerdictCache::new(DEFAULT_CAPACITY),
            explain_subject: String::new(),
        }
    }

    /// Narrows the authority to `ceiling`: a request must be covered both by a held capability
    /// and by one in `ceiling` (e.g. a tool runs with the caller's capabilities ∩ what the tool
    /// declares). Narrowing never widens anything.
    #[must_use]
    pub fn narrowed_to(mut self, ceiling: CapabilitySet) -> Self {
        self.ceiling = Some(ceiling);
        self
    }

    /// Records a refusal decided before any capability or policy applies — a request whose
    /// arguments are themselves an attack, such as a path leaving the working directory —
    /// as a `deny` audit record with `reason`, and returns the denial.
    pub fn refuse(&self, req: &Request<'_>, reason: &str) -> Decision {
        let reason: Arc<str> = reason.into();
        let decided = Arc::new(Decided {
            subject: req.subject.into(),
            action: req.action.into(),
            resource: req.resource.into(),
            verdict: Verdict::Deny,
            reason: Arc::clone(&reason),
            policy_ids: Arc::from([]),
        });
        let decision = Decision::Deny {
            reason,
            policy_ids: Arc::clone(&decided.policy_ids),
        };
        self.record(decided, req, None);
        decision
    }

    /// Records a decision a person made for `req` after the policy asked (a grant covered
    /// the call, a standing rule answered it, or the request went to the human queue), so
    /// the audit log shows what let the call through or stopped it. `request_id` names the
    /// approval request the decision belongs to.
    pub fn record_human(
        &self,
        req: &Request<'_>,
        verdict: Verdict,
        reason: &str,
        request_id: Option<String>,
    ) {
        let decided = Arc::new(Decided {
            subject: req.subject.into(),
            action: req.action.into(),
            resource: req.resource.into(),
            verdict,
            reason: reason.into(),
            policy_ids: Arc::from([]),
        });
        self.record(decided, req, request_id);
    }

    /// Sets the subject [`Authority::explain`] evaluates as (default: the empty string).
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.explain_subject = subject.into();
        self
    }

    /// Replaces the verdict cache with one holding at most `capacity` entries; `0` disables
    /// caching (every check then evaluates Cedar).
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache = VerdictCache::new(capacity);
        self
    }

    /// The capabilities this authority grants from.
    pub fn capabilities(&self) -> &CapabilitySet {
        &self.caps
    }

    /// The ceiling a request must also be covered by (see [`Authority::narrowed_to`]), if any.
    pub fn ceiling(&self) -> Option<&CapabilitySet> {
        self.ceiling.as_ref()
    }

    /// The policy this authority applies.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// Number of verdicts currently cached.
    pub fn cached_verdicts(&self) -> usize {
        self.cache.len()
    }

    /// Decides `req` and appends exactly one audit record for the decision.
    ///
    /// 1. Capability layer: no held capability covers (action, resource) → `Deny` with reason
    ///    `no capability grants <action> on <resource>`.
    /// 2. Policy layer (Cedar): a satisfied `forbid` → `Deny` naming it; no satisfied `permit`
    ///    → `Deny` with `no policy permits <action> on <resource>`; otherwise `Ask` with a
    ///    fresh `req-<uuid v7>` id when any satisfied permit is `@decision("ask")`, else
    ///    `Allow`. Policies that fail to evaluate count as not applying, and the reason says
    ///    so when that changed the outcome.
    ///
    /// Never panics on any input; strings are matched and passed to Cedar as given.
    pub fn check(&self, req: &Request<'_>) -> Decision {
        let decided = self.lookup(req);
        let decision = match decided.verdict {
            Verdict::Allow => Decision::Allow {
                policy_ids: Arc::clone(&decided.policy_ids),
            },
            Verdict::Deny => Decision::Deny {
                reason: Arc::clone(&decided.reason),
                policy_ids: Arc::clone(&decided.policy_ids),
            },
            Verdict::Ask => Decision::Ask {
                request_id: new_request_id(),
                policy_ids: Arc::clone(&decided.policy_ids),
                reason: Arc::clone(&decided.reason),
            },
        };
        let request_id = decision.request_id().map(str::to_owned);
        self.record(decided, req, request_id);
        decision
    }

    /// The same decision as [`Authority::check`], audited the same way, for callers that only
    /// need to know whether to go ahead: `Ok(())` on allow, else why not. This is the path
    /// every runtime primitive takes; an allowed repeated request costs a cache lookup and
    /// one queued audit record, nothing more.
    pub fn authorize(&self, req: &Request<'_>) -> Result<(), Refusal> {
        let decided = self.lookup(req);
        let (outcome, request_id) = outcome(&decided);
        self.record(decided, req, request_id);
        outcome
    }

    /// The decision for `action` on `resource` by `subject` (no arguments digest), from the
    /// verdict cache or evaluated and cached, with no audit record and no request id: for a
    /// host working out what an already decided effect may touch (the kernel rules of a
    /// shell command), many paths at a time.
    pub fn decided_quietly(&self, subject: &str, action: &str, resource: &str) -> Arc<Decided> {
        self.lookup(&Request {
            subject,
            action,
            resource,
            args_digest: None,
            detail: None,
        })
    }

    /// The decision for `req` before any request id is minted: from the cache, or evaluated
    /// (and cached) on a miss.
    pub(crate) fn lookup(&self, req: &Request<'_>) -> Arc<Decided> {
        let key = self.key(req);
        if let Some(hit) = self.cache.get(&key) {
            return hit;
        }
        let evaluation =
            self.evaluate_on_own_stack(req.subject, req.action, req.resource, req.args_digest);
        let decided = Arc::new(Decided {
            subject: req.subject.into(),
            action: req.action.into(),
            resource: req.resource.into(),
            verdict: evaluation.verdict,
            reason: evaluation.reason,
            policy_ids: evaluation.policy_ids,
        });
        self.cache.insert(&key, &decided);
        decided
    }

    /// The cache key of `req`: the digest takes part only when the policy can read it.
    pub(crate) fn key<'r>(&self, req: &Request<'r>) -> CacheKey<'r> {
        CacheKey {
            subject: req.subject,
            action: req.action,
            resource: req.resource,
            digest: if self.policy.reads_digest() {
                req.args_digest
            } else {
                None
            },
        }
    }

    /// Appends the audit record of `decided`, made for `req` (its arguments digest and
    /// detail) and approval request `request_id` for an ask.
    fn record(&self, decided: Arc<Decided>, req: &Request<'_>, request_id: Option<String>) {
        let mut record = record(decided, req.args_digest, request_id);
        record.detail = req.detail.map(|d| libos_audit::capped_detail(d.to_owned()));
        self.audit.append(record);
    }

    /// The sink records go to.
    pub(crate) fn audit(&self) -> &Arc<dyn AuditSink> {
        &self.audit
    }

    /// Why the audit log cannot be written now, if it cannot (see
    /// [`libos_audit::AuditSink::failing`]).
    pub fn audit_failing(&self) -> Option<String> {
        self.audit.failing()
    }

    /// What [`Authority::check`] would decide for `action` on `resource` (as the subject set
    /// with [`Authority::with_subject`], without an arguments digest), and why. Writes no
    /// audit record, mints no request id and bypasses the cache.
    pub fn explain(&self, action: &str, resource: &str) -> Explanation {
        self.explain_for(&self.explain_subject, action, resource)
    }

    /// [`Authority::explain`] as `subject` (e.g. the subject a call decides for): no audit
    /// record, no request id, no cache.
    pub fn explain_for(&self, subject: &str, action: &str, resource: &str) -> Explanation {
        let evaluation = self.evaluate_on_own_stack(subject, action, resource, None);
        Explanation {
            action: action.to_owned(),
            resource: resource.to_owned(),
            verdict: evaluation.verdict,
            capability: evaluation.capability,
            policy_ids: evaluation.policy_ids.to_vec(),
            reason: evaluation.reason.to_string(),
        }
    }

    /// Evaluates on a stack of its own. Cedar guards its recursion by measuring the remaining
    /// thread stack; callers may run on a stack the thread does not know about (a wasmtime
    /// fiber, while a guest calls a primitive), where that measurement is wrong and every
    /// evaluation would fail. A fresh stack of known size makes the guard meaningful again.
    /// Only cache misses pay for it.
    fn evaluate_on_own_stack(
        &self,
        subject: &str,
        action: &str,
        resource: &str,
        digest: Option<&[u8; 32]>,
    ) -> crate::evaluate::Evaluation {
        stacker::grow(EVALUATION_STACK, || {
            self.evaluator().evaluate(subject, action, resource, digest)
        })
    }

    fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            caps: &self.caps,
            ceiling: self.ceiling.as_ref(),
            policy: &self.policy,
            authorizer: &self.authorizer,
        }
    }
}

/// Stack given to one policy evaluation.
const EVALUATION_STACK: usize = 1 << 20;

/// A fresh approval request id: `req-` followed by a UUID v7.
pub fn new_request_id() -> String {
    format!("req-{}", uuid::Uuid::now_v7())
}

/// The caller's answer for a looked-up `decided`, and the approval request id minted for an
/// `ask` (which its audit record must carry).
pub(crate) fn outcome(decided: &Decided) -> (Result<(), Refusal>, Option<String>) {
    match decided.verdict {
        Verdict::Allow => (Ok(()), None),
        Verdict::Deny => (
            Err(Refusal::Denied {
                reason: Arc::clone(&decided.reason),
            }),
            None,
        ),
        Verdict::Ask => {
            let request_id = new_request_id();
            (
                Err(Refusal::NeedsApproval {
                    request_id: request_id.clone(),
                    reason: Arc::clone(&decided.reason),
                }),
                Some(request_id),
            )
        }
    }
}

/// The audit record of `decided`, made now for a call with arguments digest `args_digest`
/// (and approval request `request_id` for an ask).
fn record(
    decided: Arc<Decided>,
    args_digest: Option<&[u8; 32]>,
    request_id: Option<String>,
) -> AuditRecord {
    AuditRecord {
        time_ns: libos_audit::clock::now_ns(),
        decided,
        request_id,
        args_digest: args_digest.map(|d| libos_audit::chain::hex_into(d, &mut [0; 64]).to_owned()),
        detail: None,
    }
}
