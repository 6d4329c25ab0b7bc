//! The authorities calls decide through, kept and shared between calls with the same
//! capabilities, ceiling and policy.

use std::sync::Arc;

use libos_authority::{Authority, Capability, CapabilitySet, Policy};

use super::ToolHost;
use crate::error::CallFailure;

/// Capabilities every call holds without asking: reading the clock and writing to its own
/// log. The policy still decides them (a `forbid` can take them away) and they are audited.
pub const AMBIENT_CAPABILITIES: &[&str] = &["clock.read:**", "log.write:**"];

/// How many authorities (compiled capability sets with their verdict caches) a host keeps.
const KEPT_AUTHORITIES: usize = 256;

/// What makes two calls' authorities interchangeable: the same held capabilities, the same
/// declared ceiling and the same policy (by identity; the kept [`Authority`] holds the policy,
/// so the address cannot be reused while the entry exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AuthorityKey {
    held: Vec<Capability>,
    declared: Vec<Capability>,
    policy: usize,
}

impl ToolHost {
    /// The authority for a call holding `held`, narrowed to `declared`, under `policy`.
    ///
    /// Authorities are kept and shared between calls with the same capabilities, ceiling and
    /// policy (up to [`KEPT_AUTHORITIES`] of them): compiling capability globs costs more than
    /// the rest of setting up a call, and sharing the verdict cache means a request is decided
    /// by Cedar once per host rather than once per call. The subject is part of every cached
    /// verdict's key, so sharing never lets one tool's verdict answer another's request.
    pub(super) fn authority(
        &self,
        held: &[Capability],
        declared: &[Capability],
        policy: &Arc<Policy>,
    ) -> Result<Arc<Authority>, CallFailure> {
        let key = AuthorityKey {
            held: held.to_vec(),
            declared: declared.to_vec(),
            policy: Arc::as_ptr(policy) as usize,
        };
        let mut kept = self
            .authorities
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(authority) = kept.get(&key) {
            return Ok(Arc::clone(authority));
        }
        let authority = Arc::new(
            Authority::new(capability_set(held)?, policy.clone(), self.audit.clone())
                .narrowed_to(capability_set(declared)?),
        );
        if kept.len() >= KEPT_AUTHORITIES {
            kept.clear();
        }
        kept.insert(key, Arc::clone(&authority));
        Ok(authority)
    }
}

/// `caps` plus the ambient capabilities, compiled.
fn capability_set(caps: &[Capability]) -> Result<CapabilitySet, CallFailure> {
    let all = caps
        .iter()
        .cloned()
        .chain(AMBIENT_CAPABILITIES.iter().filter_map(|c| c.parse().ok()))
        .collect();
    CapabilitySet::new(all).map_err(|e| CallFailure::Host(e.to_string()))
}
