//! Attenuation: whether a requested capability lies within what a holder may pass on.
//!
//! A parent may give a child (and a caller may give a tool) only capabilities whose every
//! possible use the parent could make itself. Deciding inclusion between two globs exactly is
//! not needed for that: the rules below are sound (they never accept a request that reaches
//! something the holder cannot) and accept what people write in practice — the same pattern,
//! a narrower directory under a `DIR/**` grant, a family member under a family, or a literal
//! resource the held glob matches.

use crate::capability::{Capability, CapabilitySet, has_parent_segment};

/// Whether every (action, resource) `requested` covers is covered by one capability of
/// `held`.
pub fn within(requested: &Capability, held: &CapabilitySet) -> bool {
    held.iter()
        .any(|h| action_within(&requested.action, &h.action) && resource_within(requested, h))
}

/// The first capability of `requested` that `held` does not cover, if any.
pub fn first_not_within<'r>(
    requested: &'r [Capability],
    held: &CapabilitySet,
) -> Option<&'r Capability> {
    requested.iter().find(|r| !within(r, held))
}

fn action_within(requested: &str, held: &str) -> bool {
    if held == "*" || requested == held {
        return true;
    }
    match held.strip_suffix('*') {
        // `fs.*` covers `fs.read`, `fs.x.*` and `fs.*` itself (handled above), never `*`.
        Some(family) => family.ends_with('.') && requested != "*" && requested.starts_with(family),
        None => false,
    }
}

fn resource_within(requested: &Capability, held: &Capability) -> bool {
    let (r, h) = (requested.resource.as_str(), held.resource.as_str());
    if has_parent_segment(r) {
        return false;
    }
    if h == "**" || r == h {
        return true;
    }
    if let Some(dir) = h.strip_suffix("**")
        && (dir.is_empty() || dir.ends_with('/'))
        && !has_glob(dir)
        && r.starts_with(dir)
    {
        return true;
    }
    // A literal resource is within any glob that matches it. The held capability is matched
    // with an action it certainly covers (its own pattern with `*` made concrete), so only
    // its resource glob decides.
    !has_glob(r)
        && CapabilitySet::new(vec![held.clone()])
            .is_ok_and(|set| set.matching(&held.action.replace('*', "x"), r).is_some())
}

fn has_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(specs: &[&str]) -> CapabilitySet {
        CapabilitySet::new(specs.iter().map(|s| s.parse().expect("cap")).collect()).expect("set")
    }

    fn ok(requested: &str, held: &[&str]) -> bool {
        within(&requested.parse().expect("cap"), &set(held))
    }

    #[test]
    fn accepts_what_the_holder_covers() {
        assert!(ok("fs.read:docs/**", &["fs.read:docs/**"]));
        assert!(ok("fs.read:docs/a/**", &["fs.read:docs/**"]));
        assert!(ok("fs.read:docs/*.md", &["fs.read:docs/**"]));
        assert!(ok("fs.read:docs/a.md", &["fs.read:docs/*.md"]));
        assert!(ok("fs.read:anything", &["fs.*:**"]));
        assert!(ok("fs.write:x", &["*:**"]));
        assert!(ok(
            "process.spawn:log-parser",
            &["process.spawn:log-parser"]
        ));
    }

    #[test]
    fn refuses_anything_wider() {
        assert!(!ok("fs.read:**", &["fs.read:docs/**"]));
        assert!(!ok("fs.read:docs2/**", &["fs.read:docs/**"]));
        assert!(!ok("fs.read:docs/**", &["fs.read:docs/*.md"]));
        assert!(!ok("fs.read:*/a", &["fs.read:docs/**"]));
        assert!(!ok("fs.write:docs/a", &["fs.read:**"]));
        assert!(!ok("fs.*:docs/a", &["fs.read:**"]));
        assert!(!ok("*:docs/a", &["fs.*:**"]));
        assert!(!ok("fsx.read:a", &["fs.*:**"]));
        assert!(!ok("fs.read:a", &[]));
        assert!(!ok("fs.read:docs/../secret", &["fs.read:docs/**"]));
    }
}
