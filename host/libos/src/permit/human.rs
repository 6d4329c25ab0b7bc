//! Consulting a process's human queue when the policy asks (see `approval.rs` for the rules):
//! a standing rule, a grant covering exactly this call (one use taken), or a new request.

use std::sync::Arc;

use libos_authority::{Request, Verdict};
use libos_human::{Asked, Call, Grant, NewApproval, RuleEffect};

use crate::approval::{Asking, Describe};
use crate::bindings::RuntimeError;
use crate::call::CallCtx;

impl CallCtx {
    /// Decides a call the policy asked about (see `approval.rs`). `Ok` lets it through, with
    /// the grant whose use was taken for it, if one was (the [`super::Permit`] settles it).
    pub(super) fn consult_human(
        &mut self,
        (action, resource): (&str, &str),
        args_digest: Option<&[u8; 32]>,
        asking: Asking,
        describe: &dyn Describe,
    ) -> Result<Option<Box<Grant>>, RuntimeError> {
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
                    Ok(None)
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
            return Ok(Some(Box::new(grant)));
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
}
