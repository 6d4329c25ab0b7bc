//! Capability syntax and matching semantics.

mod common;

use common::caps;
use libos_authority::{AuthorityError, Capability, CapabilitySet};

#[test]
fn parses_action_and_resource() {
    let cap: Capability = "fs.read:docs/**".parse().unwrap();
    assert_eq!(cap.action, "fs.read");
    assert_eq!(cap.resource, "docs/**");
    assert_eq!(cap.to_string(), "fs.read:docs/**");
}

#[test]
fn missing_resource_means_everything() {
    let cap: Capability = "fs.read".parse().unwrap();
    assert_eq!(cap.resource, "**");
    let set = CapabilitySet::new(vec![cap]).unwrap();
    assert!(set.matching("fs.read", "a").is_some());
    assert!(set.matching("fs.read", "a/b/c.txt").is_some());
    assert!(set.matching("fs.write", "a").is_none());
}

#[test]
fn display_round_trips() {
    for spec in [
        "fs.read:docs/**",
        "fs.*:out/*.txt",
        "*:**",
        "net.connect:host:443",
    ] {
        let cap: Capability = spec.parse().unwrap();
        let again: Capability = cap.to_string().parse().unwrap();
        assert_eq!(cap, again, "{spec}");
    }
}

#[test]
fn only_first_colon_splits() {
    let cap: Capability = "net.connect:example.com:443".parse().unwrap();
    assert_eq!(cap.action, "net.connect");
    assert_eq!(cap.resource, "example.com:443");
}

#[test]
fn single_star_does_not_cross_slash() {
    let set = caps(&["fs.write:out/*.txt"]);
    assert!(set.matching("fs.write", "out/a.txt").is_some());
    assert!(set.matching("fs.write", "out/sub/a.txt").is_none());
    assert!(set.matching("fs.write", "out/a.md").is_none());
    assert!(set.matching("fs.write", "other/a.txt").is_none());
}

#[test]
fn double_star_crosses_slash() {
    let set = caps(&["fs.read:docs/**"]);
    assert!(set.matching("fs.read", "docs/a.md").is_some());
    assert!(set.matching("fs.read", "docs/x/y/z.md").is_some());
    assert!(set.matching("fs.read", "src/a.md").is_none());
    assert!(set.matching("fs.read", "docsx/a.md").is_none());
}

#[test]
fn literal_resource_is_exact() {
    let set = caps(&["fs.read:README.md"]);
    assert!(set.matching("fs.read", "README.md").is_some());
    assert!(set.matching("fs.read", "README.mdx").is_none());
    assert!(set.matching("fs.read", "docs/README.md").is_none());
}

#[test]
fn parent_segments_are_never_covered() {
    let set = caps(&["fs.read:docs/**", "fs.write"]);
    assert!(set.matching("fs.read", "docs/../secrets/key").is_none());
    assert!(set.matching("fs.write", "../escape").is_none());
    assert!(set.matching("fs.write", "a/..").is_none());
    assert!(set.matching("fs.write", "a/..b").is_some());
}

#[test]
fn action_families_and_wildcard() {
    let set = caps(&["fs.*:docs/**"]);
    assert!(set.matching("fs.read", "docs/a").is_some());
    assert!(set.matching("fs.write", "docs/a").is_some());
    assert!(set.matching("fs", "docs/a").is_none());
    assert!(set.matching("fsx.read", "docs/a").is_none());
    assert!(set.matching("net.connect", "docs/a").is_none());

    let all = caps(&["*"]);
    assert!(all.matching("fs.read", "x").is_some());
    assert!(all.matching("net.connect", "a/b").is_some());
    assert!(all.matching("", "").is_some());
}

#[test]
fn exact_action_is_exact() {
    let set = caps(&["fs.read"]);
    assert!(set.matching("fs.read", "x").is_some());
    assert!(set.matching("fs.readx", "x").is_none());
    assert!(set.matching("fs.read.more", "x").is_none());
    assert!(set.matching("fs", "x").is_none());
}

#[test]
fn first_matching_grant_is_reported() {
    let set = caps(&["fs.read:docs/*.md", "fs.*:docs/**", "*"]);
    assert_eq!(
        set.matching("fs.read", "docs/a.md").unwrap().to_string(),
        "fs.read:docs/*.md"
    );
    assert_eq!(
        set.matching("fs.write", "docs/a.md").unwrap().to_string(),
        "fs.*:docs/**"
    );
    assert_eq!(set.matching("net.get", "x").unwrap().to_string(), "*:**");
    assert_eq!(set.len(), 3);
    assert_eq!(set.iter().count(), 3);
    assert!(!set.is_empty());
}

#[test]
fn empty_set_matches_nothing() {
    let set = CapabilitySet::new(Vec::new()).unwrap();
    assert!(set.is_empty());
    assert!(set.matching("fs.read", "a").is_none());
}

#[test]
fn invalid_capabilities_are_typed_errors_naming_the_grant() {
    for bad in [
        "",
        ":docs/**",
        "fs.read:",
        "fs.read:docs/[",
        "fs.read:{a,b",
        "fs..read",
        "fs.re*d",
        "*.read",
        "fs.read.",
        "fs read",
        "fs.\"read\"",
        "fs.**",
    ] {
        match bad.parse::<Capability>() {
            Err(AuthorityError::InvalidCapability { capability, reason }) => {
                assert!(!reason.is_empty(), "{bad}: empty reason");
                let expected = if bad.contains(':') {
                    bad.to_owned()
                } else {
                    format!("{bad}:**")
                };
                assert_eq!(capability, expected);
                let msg = AuthorityError::InvalidCapability {
                    capability: capability.clone(),
                    reason,
                }
                .to_string();
                assert!(msg.contains(&capability), "{msg}");
            }
            other => panic!("{bad:?} should be invalid, got {other:?}"),
        }
    }
}

#[test]
fn capability_set_rejects_unvalidated_structs() {
    let bad = Capability {
        action: "fs.read".into(),
        resource: String::new(),
    };
    let err = CapabilitySet::new(vec![bad]).unwrap_err();
    assert!(matches!(err, AuthorityError::InvalidCapability { .. }));
    assert!(err.to_string().contains("fs.read:"), "{err}");
}
