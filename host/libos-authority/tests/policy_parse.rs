//! Loading policies: errors name the file and the problem; annotations are checked.

mod common;

use std::io::Write as _;

use libos_authority::{AuthorityError, Policy};

fn parse_err(src: &str, origin: &str) -> String {
    match Policy::parse(src, origin) {
        Err(e @ AuthorityError::PolicyParse { .. }) => e.to_string(),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn syntax_error_names_file_and_location() {
    let msg = parse_err(
        "permit(principal, action, resource);\npermit(principal, action resource);\n",
        "team.cedar",
    );
    assert!(msg.contains("team.cedar"), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn from_file_reports_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.cedar");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(
        f,
        "forbid(principal, action, resource) when {{ resource.path like }};"
    )
    .unwrap();
    drop(f);
    let err = Policy::from_file(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, AuthorityError::PolicyParse { .. }), "{err:?}");
    assert!(msg.contains("broken.cedar"), "{msg}");
}

#[test]
fn from_file_reads_valid_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.cedar");
    std::fs::write(
        &path,
        "@id(\"a\") permit(principal, action, resource);\nforbid(principal, action, resource) when { false };\n",
    )
    .unwrap();
    let policy = Policy::from_file(&path).unwrap();
    assert_eq!(policy.ids(), vec!["a", "policy1"]);
    assert_eq!(policy.len(), 2);
    assert!(policy.origin().ends_with("ok.cedar"));
    assert!(!policy.reads_digest());
}

#[test]
fn missing_file_is_io_error() {
    let err = Policy::from_file(std::path::Path::new("/nonexistent/p.cedar")).unwrap_err();
    assert!(matches!(err, AuthorityError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/p.cedar"), "{err}");
}

#[test]
fn permit_all_is_the_default() {
    let policy = Policy::permit_all();
    assert_eq!(policy.ids(), vec!["default-permit"]);
    assert!(!policy.is_empty());
}

#[test]
fn annotation_mistakes_are_rejected() {
    let cases = [
        (
            r#"@decision("aks") permit(principal, action, resource);"#,
            "aks",
        ),
        (
            r#"@id("f") @decision("ask") forbid(principal, action, resource);"#,
            "only applies to permit",
        ),
        (
            r#"@id("x") permit(principal, action, resource); @id("x") forbid(principal, action, resource);"#,
            "duplicate policy id `x`",
        ),
        (
            r#"@id("") permit(principal, action, resource);"#,
            "empty @id",
        ),
        (
            "permit(principal == ?principal, action, resource);",
            "template",
        ),
    ];
    for (src, needle) in cases {
        let msg = parse_err(src, "p.cedar");
        assert!(msg.contains("p.cedar"), "{msg}");
        assert!(msg.contains(needle), "{needle:?} not in {msg}");
    }
}

#[test]
fn digest_mention_is_detected() {
    let p = Policy::parse(
        r#"permit(principal, action, resource) when { context.digest != "" };"#,
        "d.cedar",
    )
    .unwrap();
    assert!(p.reads_digest());
}

#[test]
fn garbage_never_panics() {
    for src in [
        "\0",
        "permit(",
        "}}}}",
        "@id(",
        "\u{202e}permit",
        &"(".repeat(10_000),
    ] {
        let _ = Policy::parse(src, "g.cedar");
    }
}
