//! Hostile input never panics and always yields a well-formed decision.

mod common;

use common::authority;
use libos_authority::{Capability, Decision, Request, Verdict};

const POLICY: &str = r#"
@id("no-secrets")
forbid(principal, action, resource) when { resource.path like "secrets/*" };
@id("ask-writes") @decision("ask")
permit(principal, action == Action::"fs.write", resource);
@id("fs")
permit(principal, action in Action::"fs", resource) when { resource.kind == "fs" && context.digest == "" };
"#;

fn nasty_strings() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "\0".into(),
        "a\0b".into(),
        "\"".into(),
        "\"); permit(principal, action, resource); //".into(),
        "Subject::\"x\"".into(),
        "line\nbreak\r\n".into(),
        "\u{202e}gnp.exe".into(),
        "日本語/ファイル".into(),
        "🦀/🦀🦀".into(),
        ".".into(),
        "..".into(),
        "...".into(),
        "/".into(),
        "//".into(),
        "*".into(),
        "**".into(),
        "[".into(),
        "{a,b}".into(),
        "\\".into(),
        "fs.".into(),
        ".fs".into(),
        "fs..read".into(),
        "x".repeat(1 << 20),
        ".".repeat(100_000),
        "a/".repeat(50_000),
        "\u{ffff}\u{fffd}".into(),
    ]
}

fn assert_well_formed(d: &Decision) {
    match d {
        Decision::Allow { policy_ids } => assert!(!policy_ids.is_empty()),
        Decision::Deny { reason, .. } => {
            assert!(!reason.is_empty());
            assert!(!reason.contains('\n') && !reason.contains('\0'));
            assert!(reason.len() < 4096, "reason is bounded");
        }
        Decision::Ask {
            request_id, reason, ..
        } => {
            assert!(request_id.starts_with("req-"));
            assert!(!reason.contains('\n'));
        }
    }
}

#[test]
fn hostile_strings_never_panic() {
    let (auth, sink) = authority(&["fs.*:docs/**", "fs.read:*"], Some(POLICY));
    let strings = nasty_strings();
    let mut checks = 0;
    for s in &strings {
        for (subject, action, resource) in [
            (s.as_str(), "fs.read", "docs/a"),
            ("tool:x", s.as_str(), "docs/a"),
            ("tool:x", "fs.read", s.as_str()),
            (s.as_str(), s.as_str(), s.as_str()),
        ] {
            let d = auth.check(&Request {
                subject,
                action,
                resource,
                args_digest: Some(&[7; 32]),
                detail: None,
            });
            assert_well_formed(&d);
            checks += 1;
            let e = auth.explain(action, resource);
            let _ = e.to_string();
            let _ = serde_json::to_string(&e).unwrap();
        }
    }
    assert_eq!(sink.len(), checks);
}

#[test]
fn hostile_strings_get_no_grant_they_should_not() {
    let (auth, _) = authority(&["fs.read:docs/*"], None);
    for s in nasty_strings() {
        let resource = format!("docs/{s}");
        let d = auth.check(&common::req("fs.read", &resource));
        // `*` matches any run of non-`/` characters, the empty one included.
        let expect_allow = !s.contains('/') && s != "..";
        assert_eq!(
            d.verdict() == Verdict::Allow,
            expect_allow,
            "{:?}",
            &s[..s.len().min(20)]
        );
        // Quotes in the resource never escape into the policy language.
        let d = auth.check(&common::req(&s, "docs/a"));
        assert_eq!(d.is_allowed(), s == "fs.read");
    }
}

#[test]
fn injection_through_entity_ids_is_inert() {
    let src = r#"@id("only-a") permit(principal == Subject::"a", action, resource);"#;
    let (auth, _) = authority(&["*"], Some(src));
    let d = auth.check(&Request {
        subject: "a\", action, resource); permit(principal",
        action: "fs.read",
        resource: "x",
        args_digest: None,
        detail: None,
    });
    assert_eq!(d.verdict(), Verdict::Deny);
}

#[test]
fn hostile_capability_strings_never_panic() {
    for s in nasty_strings() {
        for spec in [s.clone(), format!("fs.read:{s}"), format!("{s}:docs/**")] {
            if let Ok(cap) = spec.parse::<Capability>() {
                let _ = libos_authority::CapabilitySet::new(vec![cap]).unwrap();
            }
        }
    }
}
