//! `Authority::explain`: same evaluation as `check`, no audit record, no request id.

mod common;

use common::authority;
use libos_authority::Verdict;

const POLICY: &str = r#"
@id("no-secrets")
forbid(principal, action, resource) when { resource.path like "secrets/*" };
@id("ask-writes") @decision("ask")
permit(principal, action == Action::"fs.write", resource);
@id("reads")
permit(principal, action == Action::"fs.read", resource);
"#;

#[test]
fn explains_each_outcome_without_auditing() {
    let (auth, sink) = authority(
        &["fs.read:docs/**", "fs.*:secrets/*", "fs.write:out/*"],
        Some(POLICY),
    );

    let allow = auth.explain("fs.read", "docs/a.md");
    assert_eq!(allow.verdict, Verdict::Allow);
    assert_eq!(allow.capability.as_deref(), Some("fs.read:docs/**"));
    assert_eq!(allow.policy_ids, vec!["reads".to_owned()]);

    let ask = auth.explain("fs.write", "out/x");
    assert_eq!(ask.verdict, Verdict::Ask);
    assert_eq!(ask.policy_ids, vec!["ask-writes".to_owned()]);
    assert!(ask.reason.contains("approval"), "{ask}");

    let forbid = auth.explain("fs.read", "secrets/k");
    assert_eq!(forbid.verdict, Verdict::Deny);
    assert_eq!(forbid.capability.as_deref(), Some("fs.*:secrets/*"));
    assert_eq!(forbid.policy_ids, vec!["no-secrets".to_owned()]);

    let nocap = auth.explain("fs.read", "src/a.rs");
    assert_eq!(nocap.verdict, Verdict::Deny);
    assert_eq!(nocap.capability, None);
    assert_eq!(nocap.reason, "no capability grants fs.read on src/a.rs");

    let default_deny = auth.explain("fs.delete", "secrets/../x");
    assert_eq!(default_deny.verdict, Verdict::Deny);

    assert_eq!(sink.len(), 0, "explain must not audit");
}

#[test]
fn display_is_readable() {
    let (auth, _) = authority(&["fs.read:secrets/**"], Some(POLICY));
    let text = auth.explain("fs.read", "secrets/key").to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "fs.read on secrets/key: deny");
    assert_eq!(lines[1], "  capability: fs.read:secrets/**");
    assert_eq!(lines[2], "  policies:   no-secrets");
    assert!(
        lines[3].starts_with("  reason:     forbidden by policy `no-secrets`"),
        "{text}"
    );

    let none = auth.explain("fs.write", "docs/a").to_string();
    assert!(none.contains("capability: none"), "{none}");
    assert!(none.contains("policies:   none"), "{none}");
}

#[test]
fn serializes_to_json() {
    let (auth, _) = authority(&["fs.read"], Some(POLICY));
    let json = serde_json::to_value(auth.explain("fs.read", "docs/a")).unwrap();
    assert_eq!(json["verdict"], "allow");
    assert_eq!(json["capability"], "fs.read:**");
    assert_eq!(json["policy_ids"], serde_json::json!(["reads"]));
    assert_eq!(json["action"], "fs.read");
    assert_eq!(json["resource"], "docs/a");
    assert!(json["reason"].as_str().unwrap().contains("reads"));
}

#[test]
fn explain_uses_the_configured_subject() {
    let src =
        r#"@id("only-wc") permit(principal == Subject::"tool:word_count", action, resource);"#;
    let (auth, _) = authority(&["*"], Some(src));
    assert_eq!(auth.explain("fs.read", "a").verdict, Verdict::Deny);
    let auth = auth.with_subject("tool:word_count");
    assert_eq!(auth.explain("fs.read", "a").verdict, Verdict::Allow);
}
