//! What a process's authority grants a shell command, asked without auditing: the
//! [`Judge`] behind the kernel rules, and whether the command may use the network.
//!
//! A path is granted when a held capability covers it (within the ceiling, if any) and no
//! policy `forbid` applies. A policy that asks (or says nothing) does not withhold a path:
//! the command itself was decided (and approved, if asked) before it runs; a `forbid` always
//! withholds it.

use std::cell::RefCell;

use libos_authority::{Authority, CapabilitySet, Verdict};

use super::rules::{Judge, TreeGlobs};

/// The answers of `authority` for `subject`.
pub struct Grants<'a> {
    authority: &'a Authority,
    subject: &'a str,
    /// Per action asked about: the tree-covering globs held, and those of the ceiling.
    trees: RefCell<Vec<(String, TreeGlobs, Option<TreeGlobs>)>>,
    /// The last explanation: (action, resource) -> (held, forbidden).
    last: RefCell<Option<(String, String, bool, bool)>>,
}

impl<'a> Grants<'a> {
    /// The grants of `authority` for `subject`.
    pub fn new(authority: &'a Authority, subject: &'a str) -> Self {
        Grants {
            authority,
            subject,
            trees: RefCell::new(Vec::new()),
            last: RefCell::new(None),
        }
    }

    /// (held, forbidden) for `action` on `resource`.
    fn explain(&self, action: &str, resource: &str) -> (bool, bool) {
        if let Some((a, r, held, forbidden)) = &*self.last.borrow()
            && a == action
            && r == resource
        {
            return (*held, *forbidden);
        }
        // Held: a capability (within the ceiling) covers it, whatever the policy says.
        let held = self
            .authority
            .capabilities()
            .matching(action, resource)
            .is_some()
            && self
                .authority
                .ceiling()
                .is_none_or(|c| c.matching(action, resource).is_some());
        // Forbidden: the policy denies it naming policies (a `forbid`), asked of the shared
        // verdict cache (a command's rules ask about every path of the working directory,
        // again for every command). A denial naming none is a missing capability or a policy
        // that says nothing here, which does not withhold a path.
        let forbidden = held && {
            let d = self
                .authority
                .decided_quietly(self.subject, action, resource);
            d.verdict == Verdict::Deny && !d.policy_ids.is_empty()
        };
        *self.last.borrow_mut() = Some((action.into(), resource.into(), held, forbidden));
        (held, forbidden)
    }

    /// Whether `action` on `resource` is held and not forbidden.
    pub fn permits(&self, action: &str, resource: &str) -> bool {
        let (held, forbidden) = self.explain(action, resource);
        held && !forbidden
    }

    /// Whether a capability naming `action` itself (not a family such as `shell.*`, not `*`)
    /// covers `resource`, within the ceiling, and the policy permits it outright (allow: not
    /// asked, not refused). For what must be granted explicitly, e.g. `shell.unconfined`.
    pub fn allows_explicitly(&self, action: &str, resource: &str) -> bool {
        let explicit = |caps: &CapabilitySet| {
            caps.iter().any(|cap| {
                cap.action == action
                    && CapabilitySet::new(vec![cap.clone()])
                        .is_ok_and(|one| one.matching(action, resource).is_some())
            })
        };
        explicit(self.authority.capabilities())
            && self.authority.ceiling().is_none_or(explicit)
            && self
                .authority
                .explain_for(self.subject, action, resource)
                .verdict
                == Verdict::Allow
    }
}

impl Judge for Grants<'_> {
    fn covers_tree(&self, action: &str, rel: &str) -> bool {
        let mut trees = self.trees.borrow_mut();
        if !trees.iter().any(|(a, _, _)| a == action) {
            let held = TreeGlobs::of(self.authority.capabilities(), action);
            let ceiling = self.authority.ceiling().map(|c| TreeGlobs::of(c, action));
            trees.push((action.to_owned(), held, ceiling));
        }
        trees.iter().any(|(a, held, ceiling)| {
            a == action && held.covers(rel) && ceiling.as_ref().is_none_or(|c| c.covers(rel))
        })
    }

    fn holds(&self, action: &str, rel: &str) -> bool {
        self.explain(action, rel).0
    }

    fn forbids(&self, action: &str, rel: &str) -> bool {
        self.explain(action, rel).1
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use libos_audit::{AuditRecord, AuditSink};
    use libos_authority::Policy;

    use super::*;

    struct Discard;
    impl AuditSink for Discard {
        fn append(&self, _: AuditRecord) {}
    }

    fn authority(caps: &[&str], policy: &str) -> Authority {
        let caps = caps.iter().map(|c| c.parse().unwrap()).collect();
        Authority::new(
            CapabilitySet::new(caps).unwrap(),
            Arc::new(Policy::parse(policy, "test").unwrap()),
            Arc::new(Discard),
        )
    }

    #[test]
    fn a_forbid_withholds_a_held_path_and_asking_does_not() {
        let a = authority(
            &["fs.read:**", "fs.write:out/**"],
            r#"@id("all") permit(principal, action, resource);
               @id("ask-writes") @decision("ask") permit(principal, action == Action::"fs.write", resource);
               @id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };
               @id("not-pid-9") forbid(principal == Subject::"pid:9", action, resource) when { resource.path == "mine" };"#,
        );
        let g = Grants::new(&a, "pid:1");
        assert!(g.permits("fs.read", "src/a.rs"));
        assert!(!g.permits("fs.read", "secrets/key"));
        assert!(g.forbids("fs.read", "secrets/key") && g.holds("fs.read", "secrets/key"));
        assert!(g.permits("fs.write", "out/x"), "asked: not withheld");
        assert!(!g.permits("fs.write", "src/a.rs"), "not held");
        assert!(g.permits("fs.read", "mine"));
        assert!(
            !Grants::new(&a, "pid:9").permits("fs.read", "mine"),
            "as the subject"
        );
        assert!(g.covers_tree("fs.read", "") && g.covers_tree("fs.write", "out"));
        assert!(!g.covers_tree("fs.write", "src"));
        assert!(g.allows_explicitly("fs.read", "x"), "named, allowed");
        assert!(!g.allows_explicitly("fs.write", "out/x"), "asked");
        let family = authority(&["shell.*", "*"], "permit(principal, action, resource);");
        assert!(!Grants::new(&family, "p").allows_explicitly("shell.unconfined", "ls"));
    }

    #[test]
    fn the_ceiling_bounds_the_trees() {
        let ceiling = CapabilitySet::new(vec!["fs.read:src/**".parse().unwrap()]).unwrap();
        let a =
            authority(&["fs.read:**"], "permit(principal, action, resource);").narrowed_to(ceiling);
        let g = Grants::new(&a, "tool:x");
        assert!(g.covers_tree("fs.read", "src") && !g.covers_tree("fs.read", ""));
        assert!(g.permits("fs.read", "src/a") && !g.permits("fs.read", "b"));
    }
}
