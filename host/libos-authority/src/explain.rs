//! Explanations of what the authority would decide, for `libos policy explain`.

use std::fmt;

use libos_audit::Verdict;
use serde::Serialize;

use crate::text::shown;

/// What the authority would decide for an (action, resource) pair, and why.
///
/// Produced by [`crate::Authority::explain`]; it writes no audit record and mints no request
/// id. `Display` renders a few readable lines; `Serialize` gives the same data as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The action asked about.
    pub action: String,
    /// The resource asked about.
    pub resource: String,
    /// What a check would decide.
    pub verdict: Verdict,
    /// The first held capability covering the pair, displayed; `None` when none does.
    pub capability: Option<String>,
    /// The policies that decided (empty for capability and default denials).
    pub policy_ids: Vec<String>,
    /// Why, in one sentence.
    pub reason: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} on {}: {}",
            shown(&self.action),
            shown(&self.resource),
            self.verdict.as_str()
        )?;
        match &self.capability {
            Some(cap) => writeln!(f, "  capability: {}", shown(cap))?,
            None => writeln!(f, "  capability: none held covers this request")?,
        }
        if self.policy_ids.is_empty() {
            writeln!(f, "  policies:   none")?;
        } else {
            let ids: Vec<_> = self.policy_ids.iter().map(|id| shown(id)).collect();
            writeln!(f, "  policies:   {}", ids.join(", "))?;
        }
        write!(f, "  reason:     {}", self.reason)
    }
}
