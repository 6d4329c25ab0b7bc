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

use libos_authority::{Request, Verdict};
use libos_human::{Asked, Call, HumanQueue, NewApproval, RuleEffect};

use crate::bindings::RuntimeError;
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
}

/// The effect of a call with no more to show than what it asks.
pub(crate) struct Plain<'a>(pub &'a str);

impl Describe for Plain<'_> {
    fn preview(&self, _: &CallCtx, target: &str) -> String {
        format!("{} {target}", self.0)
    }
}

/// What the policy's `ask` said: the request id it minted and which policy asked why.
pub(crate) struct Asking {
    pub request_id: String,
    pub reason: Arc<str>,
}

impl CallCtx {
    /// Decides a call the policy asked about (see the module docs). `Ok` lets it through;
    /// a grant's use taken for it is kept in the context until [`CallCtx::settle_grant`].
    pub(crate) fn consult_human(
        &mut self,
        (action, resource): (&str, &str),
        args_digest: Option<&[u8; 32]>,
        asking: Asking,
        describe: &dyn Describe,
    ) -> Result<(), RuntimeError> {
        let Some(link) = self.human.clone() else {
            return Err(RuntimeError::NeedsApproval(asking.request_id));
        };
        let subject = Arc::clone(&self.subject);
        let request = Request {
            subject: &subject,
            action,
            resource,
            args_digest,
        };
        let store = |e: libos_human::HumanError| match e {
            libos_human::HumanError::TooManyWaiting { .. } => RuntimeError::Denied(e.to_string()),
            other => RuntimeError::Io(format!("human queue: {other}")),
        };
        if let Some(rule) = link
            .queue
            .rule_for(&link.image, action, &describe.rule_resource(resource))
            .map_err(store)?
        {
            let reason = format!(
                "standing rule {} of {}: {} {action} on {} for {}",
                rule.id,
                rule.decided_by.as_deref().unwrap_or("a person"),
                match rule.effect {
                    RuleEffect::Always => "always",
                    RuleEffect::Never => "never",
                },
                rule.resource,
                rule.image
            );
            return match rule.effect {
                RuleEffect::Always => {
                    self.authority
                        .record_human(&request, Verdict::Allow, &reason, rule.request_id);
                    Ok(())
                }
                RuleEffect::Never => {
                    self.authority
                        .record_human(&request, Verdict::Deny, &reason, rule.request_id);
                    Err(RuntimeError::Denied(reason))
                }
            };
        }
        let version = describe.version(self, resource);
        let digest = args_digest.map(hex::encode);
        let call = Call {
            pid: link.pid,
            action,
            resource,
            args_digest: digest.as_deref(),
            target_version: version.as_deref(),
        };
        if let Some(grant) = link.queue.take(&call).map_err(store)? {
            let reason = format!(
                "approved by a person: grant {} ({}) of {}",
                grant.id, grant.scope, grant.request_id
            );
            self.authority.record_human(
                &request,
                Verdict::Allow,
                &reason,
                Some(grant.request_id.clone()),
            );
            self.taken = Some(Box::new(grant));
            return Ok(());
        }
        let asked = link
            .queue
            .request(
                Some(asking.request_id),
                NewApproval {
                    pid: link.pid,
                    image: link.image.to_string(),
                    action: action.to_owned(),
                    resource: resource.to_owned(),
                    args_digest: digest,
                    target_version: version,
                    preview: describe.preview(self, resource),
                    asked_because: asking.reason.to_string(),
                },
            )
            .map_err(store)?;
        let id = asked.request().id.clone();
        if let Asked::Waiting(_) = asked {
            self.authority.record_human(
                &request,
                Verdict::Ask,
                "the same effect already waits for a person",
                Some(id.clone()),
            );
        }
        Err(RuntimeError::NeedsApproval(id))
    }

    /// Settles the grant use taken for the effect just attempted: given back if the effect
    /// failed (a failed effect does not use an approval up); if it succeeded and says what
    /// version it left the target at (`version_after`), the grant's further uses (if its
    /// scope has any) cover the target as this effect left it.
    pub fn settle_grant(&mut self, succeeded: bool, version_after: Option<String>) {
        let (Some(grant), Some(link)) = (self.taken.take(), self.human.as_ref()) else {
            return;
        };
        let settled = match (succeeded, grant.uses_left) {
            // Nothing to give back: an unlimited grant lost no use.
            (false, None) => Ok(()),
            (false, Some(_)) => link.queue.give_back(grant.id),
            // No version after (the effect does not say what it left): the grant stays as
            // approved; the same version: nothing to move.
            (true, _) if version_after.is_none() || version_after == grant.target_version => Ok(()),
            (true, _) => link.queue.advance(grant.id, version_after.as_deref()),
        };
        if let Err(e) = settled {
            tracing::warn!(grant = grant.id, error = %e, "grant use not settled");
        }
    }
}
