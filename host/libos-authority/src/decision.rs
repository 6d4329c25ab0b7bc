//! The outcome of one authority check.

use std::sync::Arc;

use libos_audit::Verdict;
use serde::Serialize;

/// What the authority decided for one request.
///
/// `policy_ids` are the reported ids (`@id` names, else Cedar ids) of the policies that
/// determined the outcome, in source order: the satisfied permits for `Allow` and `Ask`, the
/// satisfied forbids for a forbid `Deny`, and empty for a capability denial or a default deny.
/// Ids and reasons are shared with the cached verdict they came from, so a decision is cheap to
/// make and to clone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Decision {
    /// The call may go ahead.
    Allow {
        /// The permit policies that allowed it.
        policy_ids: Arc<[String]>,
    },
    /// The call is refused.
    Deny {
        /// Why, e.g. `no capability grants fs.read on secrets/key`.
        reason: Arc<str>,
        /// The forbid policies that refused it (empty for capability and default denials).
        policy_ids: Arc<[String]>,
    },
    /// The call needs a human's approval first; nothing may be done until then.
    Ask {
        /// Fresh id of the approval request (`req-` + a UUID v7), unique per check.
        request_id: String,
        /// The permit policies that matched, including at least one `@decision("ask")`.
        policy_ids: Arc<[String]>,
        /// Which policies require approval, and for what.
        reason: Arc<str>,
    },
}

impl Decision {
    /// The verdict as the audit log records it.
    pub fn verdict(&self) -> Verdict {
        match self {
            Decision::Allow { .. } => Verdict::Allow,
            Decision::Deny { .. } => Verdict::Deny,
            Decision::Ask { .. } => Verdict::Ask,
        }
    }

    /// True only for [`Decision::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The ids of the policies that decided.
    pub fn policy_ids(&self) -> &[String] {
        match self {
            Decision::Allow { policy_ids }
            | Decision::Deny { policy_ids, .. }
            | Decision::Ask { policy_ids, .. } => policy_ids,
        }
    }

    /// The reason for a denial or an approval request; empty for `Allow`.
    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow { .. } => "",
            Decision::Deny { reason, .. } | Decision::Ask { reason, .. } => reason,
        }
    }

    /// The approval request id, for `Ask` only.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Decision::Ask { request_id, .. } => Some(request_id),
            _ => None,
        }
    }
}

/// Why a request may not go ahead, as [`crate::Authority::authorize`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Refused; the same reason as [`Decision::Deny`].
    Denied {
        /// Why, e.g. `no capability grants fs.read on secrets/key`.
        reason: Arc<str>,
    },
    /// A human must approve first; the same as [`Decision::Ask`].
    NeedsApproval {
        /// Fresh id of the approval request (`req-` + a UUID v7).
        request_id: String,
        /// Which policies require approval, and for what.
        reason: Arc<str>,
    },
}
