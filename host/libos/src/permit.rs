//! The one door to an effect: a [`Permit`].
//!
//! Every primitive obtains a permit before it acts, and can get one only here: each
//! [`CallCtx::permit`] makes exactly one decision per resource it names (capabilities, then
//! policy, audited by the session), and when the policy asks, consults the process's human
//! queue (a standing rule, a grant covering exactly this call, or a new approval request).
//! Anything but a let-through is the typed error the guest receives. A permit carries the
//! grant use taken for the effect, if any: [`Permit::done`] after the effect keeps the use
//! (and moves a multi-use grant to the version the effect left); a permit dropped without
//! `done` (the effect failed, or never happened) gives the use back.

mod human;
mod stored;

pub use stored::RecordPending;

use std::sync::Arc;

use libos_authority::{Deferral, Request};
use libos_human::{Grant, HumanQueue};

use crate::approval::{Asking, Describe, Plain};
use crate::bindings::RuntimeError;
use crate::call::{CallCtx, MAX_RESOURCE};

/// Proof that an effect was decided (and, if the policy asked, approved), with the grant use
/// taken for it. Settle it with [`Permit::done`] once the effect happened; dropping it
/// instead gives the use back.
#[must_use = "an effect's permit is settled with `done` once the effect happened"]
pub struct Permit {
    taken: Option<(Arc<HumanQueue>, Box<Grant>)>,
}

impl Permit {
    /// The effect happened. If it says what version it left its target at (`version_after`),
    /// a grant with uses left covers the target as this effect left it from now on.
    pub fn done(mut self, version_after: Option<String>) {
        let Some((queue, grant)) = self.taken.take() else {
            return;
        };
        if version_after.is_none() || version_after == grant.target_version {
            return;
        }
        if let Err(e) = queue.advance(grant.id, version_after.as_deref()) {
            tracing::warn!(grant = grant.id, error = %e, "grant not moved to the new version");
        }
    }
}

impl Drop for Permit {
    /// A permit not marked done: the effect failed, so the use it took is given back.
    fn drop(&mut self) {
        let Some((queue, grant)) = self.taken.take() else {
            return;
        };
        // An unlimited grant lost no use.
        if grant.uses_left.is_some()
            && let Err(e) = queue.give_back(grant.id)
        {
            tracing::warn!(grant = grant.id, error = %e, "grant use not given back");
        }
    }
}

impl CallCtx {
    /// The permit for `action` on `resource` (see the module docs), for an effect a person
    /// would be shown as `action resource`. A resource longer than [`MAX_RESOURCE`] bytes (a
    /// guest-chosen name or path) is refused as `invalid` without a decision; the audit log
    /// records the refusal with the resource cut short.
    pub fn permit(
        &mut self,
        action: &str,
        resource: &str,
        args_digest: Option<&[u8; 32]>,
    ) -> Result<Permit, RuntimeError> {
        self.permit_described(action, resource, args_digest, &Plain(action))
    }

    /// [`CallCtx::permit`] for an effect `describe` shows a person (its preview, and the
    /// target version a grant is bound to).
    pub(crate) fn permit_described(
        &mut self,
        action: &str,
        resource: &str,
        args_digest: Option<&[u8; 32]>,
        describe: &dyn Describe,
    ) -> Result<Permit, RuntimeError> {
        let detail = describe.detail();
        match self.decide(action, resource, args_digest, detail.as_deref())? {
            None => Ok(Permit { taken: None }),
            Some(asking) => {
                let grant =
                    self.consult_human((action, resource), args_digest, asking, describe)?;
                Ok(self.holding(grant))
            }
        }
    }

    /// The permit for `action` on a path: decided on `named` (the normalized path the guest
    /// gave), then on the path `resolve` says the effect will really touch if that differs;
    /// if the policy asks about either, the person is asked once, about the real one. Returns
    /// the real path and the permit.
    pub(crate) fn permit_path(
        &mut self,
        action: &str,
        named: &str,
        resolve: impl FnOnce(&mut CallCtx) -> Result<String, RuntimeError>,
        args_digest: &[u8; 32],
        describe: &dyn Describe,
    ) -> Result<(String, Permit), RuntimeError> {
        let detail = describe.detail();
        let first = self.decide(action, named, Some(args_digest), detail.as_deref())?;
        let real = match resolve(self) {
            Ok(real) => real,
            Err(e) => {
                self.record_unanswered(first);
                return Err(e);
            }
        };
        let second = if real != named {
            match self.decide(action, &real, Some(args_digest), detail.as_deref()) {
                Ok(second) => second,
                Err(e) => {
                    self.record_unanswered(first);
                    return Err(e);
                }
            }
        } else {
            None
        };
        let asked = match (first, second) {
            (Some(mut first), Some(second)) => {
                first.decisions.extend(second.decisions);
                Some(Asking {
                    decisions: first.decisions,
                    ..second
                })
            }
            (first, second) => second.or(first),
        };
        let permit = match asked {
            None => Permit { taken: None },
            Some(asking) => {
                let grant =
                    self.consult_human((action, &real), Some(args_digest), asking, describe)?;
                self.holding(grant)
            }
        };
        Ok((real, permit))
    }

    fn holding(&self, grant: Option<Box<Grant>>) -> Permit {
        let queue = self.human.as_ref().map(|link| Arc::clone(&link.queue));
        Permit {
            taken: grant.zip(queue).map(|(grant, queue)| (queue, grant)),
        }
    }

    /// The policy's answer for a call, before any person is consulted: `Ok(None)` allowed,
    /// `Ok(Some(_))` asked, `Err` refused. Private: only a permit decides.
    fn decide(
        &mut self,
        action: &str,
        resource: &str,
        args_digest: Option<&[u8; 32]>,
        detail: Option<&str>,
    ) -> Result<Option<Asking>, RuntimeError> {
        if resource.len() > MAX_RESOURCE {
            let reason = format!(
                "{action}: the resource is {} bytes long; at most {MAX_RESOURCE} are allowed",
                resource.len()
            );
            let mut cut = 64;
            while !resource.is_char_boundary(cut) {
                cut -= 1;
            }
            self.refuse(action, &format!("{}…", &resource[..cut]), reason.clone());
            return Err(RuntimeError::Invalid(reason));
        }
        if let Some(why) = self.authority.audit_failing() {
            // Fail closed. The refusal is queued all the same: if the log can be written
            // again, it is stored, and the next decision goes ahead.
            let reason = format!("{action}: refused, the audit log cannot be written ({why})");
            self.refuse(action, resource, reason.clone());
            return Err(RuntimeError::Io(reason));
        }
        let request = Request {
            subject: &self.subject,
            action,
            resource,
            args_digest,
            detail,
        };
        match self.authority.authorize_or_defer(&request) {
            Ok(()) => Ok(None),
            Err(Deferral::Denied(reason)) => Err(RuntimeError::Denied(reason.to_string())),
            Err(Deferral::Asked(asked)) => Ok(Some(Asking {
                request_id: libos_authority::new_request_id(),
                reason: Arc::clone(&asked.reason),
                decisions: vec![asked],
            })),
        }
    }

    /// Records the ask decisions of `asking` (if any) as answered by no request: the call
    /// stopped before a person could be asked.
    fn record_unanswered(&mut self, asking: Option<Asking>) {
        for asked in asking.into_iter().flat_map(|a| a.decisions) {
            self.authority.record_asked(asked, None);
        }
    }

    /// Records the ask decisions of `decisions` as answered by approval request `request_id`.
    pub(crate) fn record_asks(
        &mut self,
        decisions: Vec<libos_authority::AskedDecision>,
        request_id: Option<&str>,
    ) {
        for asked in decisions {
            self.authority
                .record_asked(asked, request_id.map(str::to_owned));
        }
    }
}
