//! The two decision layers, capability then policy, without caching or auditing.

use std::sync::Arc;

use cedar_policy::{AuthorizationError, Authorizer, Decision as CedarDecision, Effect, PolicyId};
use libos_audit::Verdict;

use crate::capability::{CapabilitySet, has_parent_segment};
use crate::entities;
use crate::policy::Policy;
use crate::text::{policies_word, quoted_list, shown};

/// The verdict of both layers for one (subject, action, resource, digest), before a request
/// id is minted. This is what the authority caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub(crate) verdict: Verdict,
    /// The matching grant, displayed; `None` when the capability layer denied.
    pub(crate) capability: Option<String>,
    /// Shared with every decision and audit record made from this evaluation.
    pub(crate) policy_ids: Arc<[String]>,
    /// Shared with every decision and audit record made from this evaluation.
    pub(crate) reason: Arc<str>,
}

impl Evaluation {
    fn deny(capability: Option<String>, policy_ids: Vec<String>, reason: String) -> Self {
        Evaluation {
            verdict: Verdict::Deny,
            capability,
            policy_ids: policy_ids.into(),
            reason: reason.into(),
        }
    }
}

/// Everything one evaluation needs.
pub(crate) struct Evaluator<'a> {
    pub(crate) caps: &'a CapabilitySet,
    /// When set, a request must also be covered by this set (e.g. what a tool declares).
    pub(crate) ceiling: Option<&'a CapabilitySet>,
    pub(crate) policy: &'a Policy,
    pub(crate) authorizer: &'a Authorizer,
}

impl Evaluator<'_> {
    /// Runs the capability layer, then (when a grant covers the request) the policy layer.
    pub(crate) fn evaluate(
        &self,
        subject: &str,
        action: &str,
        resource: &str,
        digest: Option<&[u8; 32]>,
    ) -> Evaluation {
        if has_parent_segment(resource) {
            return Evaluation::deny(
                None,
                Vec::new(),
                format!(
                    "no capability grants {} on {}: resource contains a `..` segment",
                    shown(action),
                    shown(resource)
                ),
            );
        }
        let Some(cap) = self.caps.matching(action, resource) else {
            return Evaluation::deny(
                None,
                Vec::new(),
                format!(
                    "no capability grants {} on {}",
                    shown(action),
                    shown(resource)
                ),
            );
        };
        if let Some(ceiling) = self.ceiling
            && ceiling.matching(action, resource).is_none()
        {
            return Evaluation::deny(
                None,
                Vec::new(),
                format!(
                    "no capability grants {} on {}: the caller holds it, but the callee does not declare it",
                    shown(action),
                    shown(resource)
                ),
            );
        }
        let capability = cap.to_string();
        let digest_hex = digest.map(hex::encode).unwrap_or_default();
        let query = match entities::build(subject, action, resource, &digest_hex) {
            Ok(query) => query,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the policy request");
                return Evaluation::deny(
                    Some(capability),
                    Vec::new(),
                    format!("cannot build the policy request: {}", shown(&e)),
                );
            }
        };
        let response =
            self.authorizer
                .is_authorized(&query.request, self.policy.set(), &query.entities);
        let determining: Vec<&PolicyId> = response.diagnostics().reason().collect();
        let errored: Vec<(&PolicyId, String)> = response
            .diagnostics()
            .errors()
            .map(|e| match e {
                AuthorizationError::PolicyEvaluationError(e) => {
                    (e.policy_id(), e.inner().to_string())
                }
            })
            .collect();
        for (id, error) in &errored {
            tracing::warn!(policy = %self.policy.name_of(id), error = %error,
                "policy evaluation error; the policy is treated as not applying");
        }
        let ignored = |effect: Effect| self.ignored_note(&errored, effect);

        match response.decision() {
            CedarDecision::Deny if determining.is_empty() => Evaluation::deny(
                Some(capability),
                Vec::new(),
                format!(
                    "no policy permits {} on {}{}",
                    shown(action),
                    shown(resource),
                    ignored(Effect::Permit)
                ),
            ),
            CedarDecision::Deny => {
                let ids = self.policy.names_of(determining);
                let reason = format!(
                    "forbidden by {} {}",
                    policies_word(ids.len()),
                    quoted_list(&ids)
                );
                Evaluation::deny(Some(capability), ids, reason)
            }
            CedarDecision::Allow => {
                let ids = self.policy.names_of(determining.iter().copied());
                let ask_ids = self
                    .policy
                    .names_of(determining.into_iter().filter(|id| self.policy.is_ask(id)));
                if ask_ids.is_empty() {
                    let reason = format!(
                        "granted by capability {}; permitted by {} {}{}",
                        shown(&capability),
                        policies_word(ids.len()),
                        quoted_list(&ids),
                        ignored(Effect::Forbid)
                    );
                    Evaluation {
                        verdict: Verdict::Allow,
                        capability: Some(capability),
                        policy_ids: ids.into(),
                        reason: reason.into(),
                    }
                } else {
                    let reason = format!(
                        "{} {} {} approval for {} on {}{}",
                        policies_word(ask_ids.len()),
                        quoted_list(&ask_ids),
                        if ask_ids.len() == 1 {
                            "requires"
                        } else {
                            "require"
                        },
                        shown(action),
                        shown(resource),
                        ignored(Effect::Forbid)
                    );
                    Evaluation {
                        verdict: Verdict::Ask,
                        capability: Some(capability),
                        policy_ids: ids.into(),
                        reason: reason.into(),
                    }
                }
            }
        }
    }

    /// A note about erroring policies of `effect` (those whose failure could have changed the
    /// outcome), or the empty string.
    fn ignored_note(&self, errored: &[(&PolicyId, String)], effect: Effect) -> String {
        let notes: Vec<String> = errored
            .iter()
            .filter(|(id, _)| self.policy.set().policy(id).map(|p| p.effect()) == Some(effect))
            .map(|(id, error)| {
                format!(
                    "policy `{}` was ignored because it failed to evaluate: {}",
                    shown(&self.policy.name_of(id)),
                    shown(error)
                )
            })
            .collect();
        if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        }
    }
}
