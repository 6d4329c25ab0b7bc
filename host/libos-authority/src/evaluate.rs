//! The two decision layers, capability then policy, without caching or auditing.

use std::sync::Arc;

use cedar_policy::{AuthorizationError, Authorizer, Decision as CedarDecision, Effect, PolicyId};
use libos_audit::Verdict;

use crate::capability::{CapabilitySet, has_parent_segment};
use crate::entities;
use crate::policy::{Layer, Policy};
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
        let several = self.policy.inherits();
        let mut allowed: Vec<String> = Vec::new();
        let mut asked: Vec<String> = Vec::new();
        let mut ask_reason: Option<String> = None;
        let mut notes = String::new();
        for (depth, layer) in self.policy.layers().enumerate() {
            let of = if several {
                format!(" (policy set {})", shown(layer.origin()))
            } else {
                String::new()
            };
            // The ids of an inherited set are named with their set: two images' policies
            // may both call a rule `default`.
            let named = |ids: Vec<String>| -> Vec<String> {
                if depth == 0 {
                    ids
                } else {
                    ids.into_iter()
                        .map(|id| format!("{}#{id}", layer.origin()))
                        .collect()
                }
            };
            match self.decide_in(layer, &query).named_by(named) {
                InLayer::NoPermit { note } => {
                    return Evaluation::deny(
                        Some(capability),
                        Vec::new(),
                        format!(
                            "no policy permits {} on {}{of}{note}",
                            shown(action),
                            shown(resource),
                        ),
                    );
                }
                InLayer::Forbidden { ids } => {
                    let reason = format!(
                        "forbidden by {} {}{of}",
                        policies_word(ids.len()),
                        quoted_list(&ids)
                    );
                    return Evaluation::deny(Some(capability), ids, reason);
                }
                InLayer::Permitted { ids, ask_ids, note } => {
                    notes.push_str(&note);
                    if !ask_ids.is_empty() && ask_reason.is_none() {
                        ask_reason = Some(format!(
                            "{} {} {} approval for {} on {}{of}",
                            policies_word(ask_ids.len()),
                            quoted_list(&ask_ids),
                            if ask_ids.len() == 1 {
                                "requires"
                            } else {
                                "require"
                            },
                            shown(action),
                            shown(resource),
                        ));
                    }
                    asked.extend(ask_ids);
                    allowed.extend(ids);
                }
            }
        }
        match ask_reason {
            None => {
                let reason = format!(
                    "granted by capability {}; permitted by {} {}{notes}",
                    shown(&capability),
                    policies_word(allowed.len()),
                    quoted_list(&allowed),
                );
                Evaluation {
                    verdict: Verdict::Allow,
                    capability: Some(capability),
                    policy_ids: allowed.into(),
                    reason: reason.into(),
                }
            }
            Some(reason) => Evaluation {
                verdict: Verdict::Ask,
                capability: Some(capability),
                policy_ids: allowed.into(),
                reason: format!("{reason}{notes}").into(),
            },
        }
    }

    /// What one policy set decides for `query`.
    fn decide_in(&self, layer: &Layer, query: &entities::CedarQuery) -> InLayer {
        let response = self
            .authorizer
            .is_authorized(&query.request, layer.set(), &query.entities);
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
            tracing::warn!(policy = %layer.name_of(id), error = %error,
                "policy evaluation error; the policy is treated as not applying");
        }
        match response.decision() {
            CedarDecision::Deny if determining.is_empty() => InLayer::NoPermit {
                note: ignored_note(layer, &errored, Effect::Permit),
            },
            CedarDecision::Deny => InLayer::Forbidden {
                ids: layer.names_of(determining),
            },
            CedarDecision::Allow => InLayer::Permitted {
                ids: layer.names_of(determining.iter().copied()),
                ask_ids: layer.names_of(determining.into_iter().filter(|id| layer.is_ask(id))),
                note: ignored_note(layer, &errored, Effect::Forbid),
            },
        }
    }
}

impl InLayer {
    /// The same outcome with its policy ids renamed by `named`.
    fn named_by(self, named: impl Fn(Vec<String>) -> Vec<String>) -> InLayer {
        match self {
            InLayer::NoPermit { note } => InLayer::NoPermit { note },
            InLayer::Forbidden { ids } => InLayer::Forbidden { ids: named(ids) },
            InLayer::Permitted { ids, ask_ids, note } => InLayer::Permitted {
                ids: named(ids),
                ask_ids: named(ask_ids),
                note,
            },
        }
    }
}

/// What one policy set decided.
enum InLayer {
    /// No permit applies (with a note on permits that failed to evaluate).
    NoPermit { note: String },
    /// These forbids apply.
    Forbidden { ids: Vec<String> },
    /// These permits apply, those of them in `ask_ids` asking (with a note on forbids that
    /// failed to evaluate).
    Permitted {
        ids: Vec<String>,
        ask_ids: Vec<String>,
        note: String,
    },
}

/// A note about erroring policies of `effect` in `layer` (those whose failure could have
/// changed the outcome), or the empty string.
fn ignored_note(layer: &Layer, errored: &[(&PolicyId, String)], effect: Effect) -> String {
    let notes: Vec<String> = errored
        .iter()
        .filter(|(id, _)| layer.set().policy(id).map(|p| p.effect()) == Some(effect))
        .map(|(id, error)| {
            format!(
                "policy `{}` was ignored because it failed to evaluate: {}",
                shown(&layer.name_of(id)),
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
