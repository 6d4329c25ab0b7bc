//! Effects the policy asks a person about, decided at the primitive with the human queue.
//!
//! When the policy answers `ask`, a call made for a process (one whose context has a
//! [`HumanLink`]) consults the process's human queue before the guest hears anything: a
//! standing rule for the image answers (`always` lets the call through, `never` refuses
//! it; for a shell command, a rule matches its command line, see
//! [`libos_human::command_line`]); else a grant covering exactly this call (process,
//! action, resource, argument digest, target version) lets it through, one use taken now;
//! else the call is recorded as an approval request (or joins the same one already
//! waiting) and the guest gets `needs-approval` with the request's id. Each of these is audited. Without a link (a tool
//! called from the command line), `ask` is `needs-approval` as before.

use std::sync::Arc;

use libos_human::HumanQueue;

use crate::call::CallCtx;

/// The human queue a process's calls consult, and who the process is.
#[derive(Clone)]
pub struct HumanLink {
    /// The queue of the state directory.
    pub queue: Arc<HumanQueue>,
    /// The process (grants are bound to it; its children have their own).
    pub pid: u64,
    /// Its image, `name:version` (rules are per image).
    pub image: Arc<str>,
    /// Where the grant that lets an effect through is noted before the effect (the
    /// process's journal), if anywhere.
    pub grants_used: Option<Arc<dyn NoteGrant>>,
}

/// Keeps, durably and before the effect, which grant let a process's effect through.
pub trait NoteGrant: Send + Sync {
    /// Notes that `grant` let through the effect numbered `entry` (the process's journal
    /// entry of the call under way); returns once that is stored.
    ///
    /// # Errors
    /// Why it could not be stored (the effect is then refused).
    fn note(&self, entry: u64, grant: u64) -> Result<(), String>;
}

/// What a person is shown about an effect, and the target version its grant is bound to.
/// The version is read on every asked call (a grant must match it); the preview only when a
/// new request is recorded.
pub(crate) trait Describe {
    /// The target's version before the effect (`None` for effects without a target that
    /// can change).
    fn version(&self, _ctx: &CallCtx, _target: &str) -> Option<String> {
        None
    }

    /// A readable preview of the effect on `target`.
    fn preview(&self, ctx: &CallCtx, target: &str) -> String;

    /// What a standing rule is matched against for the effect on `target`: the target
    /// itself, or for a shell command its command line (so a rule answered on one argv
    /// never covers every later use of the program).
    fn rule_resource(&self, target: &str) -> String {
        target.to_owned()
    }

    /// What the audit record shows of the effect beyond its target (a shell command's whole
    /// argv); `None` when the target says it all.
    fn detail(&self) -> Option<String> {
        None
    }
}

/// The effect of a call with no more to show than what it asks.
pub(crate) struct Plain<'a>(pub &'a str);

impl Describe for Plain<'_> {
    fn preview(&self, _: &CallCtx, target: &str) -> String {
        format!("{} {target}", self.0)
    }
}

/// What the policy's `ask` said: the id a new approval request gets, which policy asked
/// why, and the ask decisions (one per resource decided) whose records wait for the request
/// that answers them.
pub(crate) struct Asking {
    pub request_id: String,
    pub reason: Arc<str>,
    pub decisions: Vec<libos_authority::AskedDecision>,
}
