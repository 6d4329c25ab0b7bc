//! A policy inheriting its ancestors' sets: every set decides, a `forbid` or missing `permit`
//! anywhere denies, an `ask` anywhere asks, and each set counts once.

mod common;

use std::sync::Arc;

use common::{MemorySink, caps};
use libos_authority::{Authority, Policy, Verdict};

const PERMIT_ALL: &str = r#"@id("all") permit(principal, action, resource);"#;
const FORBID_SECRETS: &str = r#"@id("all-but") permit(principal, action, resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#;
const ASK_WRITES: &str = r#"@id("reads") permit(principal, action == Action::"fs.read", resource);
@id("ask-writes") @decision("ask") permit(principal, action == Action::"fs.write", resource);"#;

fn parsed(src: &str, origin: &str) -> Policy {
    Policy::parse(src, origin).expect("test policy parses")
}

fn explain(policy: Policy, action: &str, resource: &str) -> libos_authority::Explanation {
    let sink = Arc::new(MemorySink::default());
    Authority::new(caps(&["fs.*:**", "shell.*:**"]), Arc::new(policy), sink)
        .explain(action, resource)
}

#[test]
fn a_forbid_of_an_ancestor_wins_over_a_permissive_own_set() {
    let parent = parsed(FORBID_SECRETS, "parent/policy.cedar");
    let child = parsed(PERMIT_ALL, "child/policy.cedar").inheriting(&parent);
    let denied = explain(child.clone(), "fs.read", "secrets/key");
    assert_eq!(denied.verdict, Verdict::Deny);
    // An inherited set's rules are named with their set.
    assert_eq!(denied.policy_ids, ["parent/policy.cedar#no-secrets"]);
    assert!(denied.reason.contains("parent/policy.cedar"), "{denied}");
    let allowed = explain(child, "fs.read", "a.txt");
    assert_eq!(allowed.verdict, Verdict::Allow, "{allowed}");
    assert_eq!(allowed.policy_ids, ["all", "parent/policy.cedar#all-but"]);
}

#[test]
fn an_own_forbid_holds_under_a_permissive_ancestor() {
    let parent = parsed(PERMIT_ALL, "parent/policy.cedar");
    let child = parsed(FORBID_SECRETS, "child/policy.cedar").inheriting(&parent);
    assert_eq!(
        explain(child, "fs.read", "secrets/key").verdict,
        Verdict::Deny
    );
}

#[test]
fn what_an_ancestor_does_not_permit_is_denied_and_its_asks_ask() {
    let parent = parsed(ASK_WRITES, "parent/policy.cedar");
    let child = parsed(PERMIT_ALL, "child/policy.cedar").inheriting(&parent);
    let shell = explain(child.clone(), "shell.exec", "ls");
    assert_eq!(shell.verdict, Verdict::Deny, "{shell}");
    assert!(shell.reason.contains("no policy permits"), "{shell}");
    let write = explain(child.clone(), "fs.write", "a.txt");
    assert_eq!(write.verdict, Verdict::Ask, "{write}");
    assert!(write.reason.contains("ask-writes"), "{write}");
    assert_eq!(explain(child, "fs.read", "a.txt").verdict, Verdict::Allow);
}

#[test]
fn the_chain_reaches_every_generation_and_counts_each_set_once() {
    let root = parsed(FORBID_SECRETS, "root/policy.cedar");
    let middle = parsed(PERMIT_ALL, "middle/policy.cedar").inheriting(&root);
    let leaf = parsed(PERMIT_ALL, "middle/policy.cedar").inheriting(&middle);
    assert_eq!(
        leaf.origins(),
        ["middle/policy.cedar", "root/policy.cedar"],
        "the same set twice counts once"
    );
    assert_eq!(
        explain(leaf.clone(), "fs.read", "secrets/x").verdict,
        Verdict::Deny
    );
    // Inheriting again what is already inherited changes nothing.
    let again = leaf.inheriting(&middle);
    assert_eq!(again.chain_digest(), leaf.chain_digest());
    assert_ne!(
        leaf.chain_digest(),
        parsed(PERMIT_ALL, "middle/policy.cedar").chain_digest()
    );
}
