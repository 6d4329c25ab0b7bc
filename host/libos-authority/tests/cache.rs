//! The verdict cache agrees with uncached evaluation and never reuses request ids.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{MemorySink, caps, policy, req};
use libos_authority::{Authority, DEFAULT_CAPACITY, Decision, Request};

const POLICY: &str = r#"
@id("no-secrets")
forbid(principal, action, resource) when { resource.path like "secrets/*" };
@id("ask-writes") @decision("ask")
permit(principal, action == Action::"fs.write", resource);
@id("fs")
permit(principal, action in Action::"fs", resource) when { action != Action::"fs.delete" };
@id("tool-only")
forbid(principal, action, resource) unless { principal == Subject::"tool:test" || principal == Subject::"tool:a" };
"#;

const CAPS: &[&str] = &[
    "fs.read:docs/**",
    "fs.write:out/*.txt",
    "fs.*:secrets/*",
    "fs.delete:tmp/**",
];

fn build(capacity: usize) -> (Authority, Arc<MemorySink>) {
    let sink = Arc::new(MemorySink::default());
    let auth =
        Authority::new(caps(CAPS), policy(POLICY), sink.clone()).with_cache_capacity(capacity);
    (auth, sink)
}

/// The decision with the request id blanked, for comparison.
fn normalized(d: Decision) -> Decision {
    match d {
        Decision::Ask {
            policy_ids, reason, ..
        } => Decision::Ask {
            request_id: String::new(),
            policy_ids,
            reason,
        },
        other => other,
    }
}

fn mix() -> Vec<(String, String, String)> {
    let subjects = ["tool:test", "tool:a", "tool:b"];
    let actions = ["fs.read", "fs.write", "fs.delete", "fs.list", "net.get"];
    let resources = [
        "docs/a.md",
        "docs/x/y.md",
        "out/a.txt",
        "out/sub/a.txt",
        "secrets/key",
        "tmp/x",
        "../etc/passwd",
        "",
    ];
    let mut all = Vec::new();
    for s in subjects {
        for a in actions {
            for r in resources {
                all.push((s.to_owned(), a.to_owned(), r.to_owned()));
            }
        }
    }
    all
}

#[test]
fn cached_and_uncached_agree_on_a_mix() {
    let (cached, cached_sink) = build(DEFAULT_CAPACITY);
    let (uncached, _) = build(0);
    let uncached = uncached.with_subject("tool:test");
    let requests = mix();
    // Three passes: the first fills the cache, the others hit it.
    for _ in 0..3 {
        for (s, a, r) in &requests {
            let request = Request {
                subject: s,
                action: a,
                resource: r,
                args_digest: None,
                detail: None,
            };
            let expected = normalized(uncached.check(&request));
            let got = normalized(cached.check(&request));
            assert_eq!(got, expected, "{s} {a} {r:?}");
            let explained = uncached.explain(a, r);
            if s == "tool:test" {
                assert_eq!(explained.verdict, got.verdict(), "{a} {r:?}");
            }
        }
    }
    assert_eq!(uncached.cached_verdicts(), 0);
    assert_eq!(cached.cached_verdicts(), requests.len());
    assert_eq!(cached_sink.len(), requests.len() * 3);
}

#[test]
fn subjects_are_part_of_the_key() {
    let (auth, _) = build(DEFAULT_CAPACITY);
    let allowed = auth.check(&req("fs.read", "docs/a.md"));
    assert!(allowed.is_allowed());
    let other = Request {
        subject: "tool:b",
        ..req("fs.read", "docs/a.md")
    };
    let denied = auth.check(&other);
    assert_eq!(denied.policy_ids(), ["tool-only".to_owned()]);
}

#[test]
fn cached_ask_mints_new_request_ids() {
    let (auth, sink) = build(DEFAULT_CAPACITY);
    let mut ids = HashSet::new();
    for _ in 0..50 {
        let d = auth.check(&req("fs.write", "out/a.txt"));
        let id = d.request_id().expect("ask").to_owned();
        assert!(id.starts_with("req-"));
        assert!(ids.insert(id), "request id reused");
    }
    assert_eq!(auth.cached_verdicts(), 1);
    let audited: HashSet<String> = sink
        .records()
        .into_iter()
        .filter_map(|r| r.request_id)
        .collect();
    assert_eq!(audited, ids);
}

#[test]
fn cache_is_bounded() {
    let (auth, _) = build(64);
    for i in 0..1000 {
        let r = format!("docs/{i}.md");
        assert!(auth.check(&req("fs.read", &r)).is_allowed());
        assert!(auth.cached_verdicts() <= 64);
    }
    // Still correct after being cleared repeatedly.
    assert_eq!(
        auth.check(&req("fs.read", "secrets/key")).policy_ids(),
        ["no-secrets".to_owned()]
    );
}

#[test]
fn huge_keys_are_not_cached() {
    let (auth, _) = build(DEFAULT_CAPACITY);
    let huge = format!("docs/{}", "a".repeat(100_000));
    assert!(auth.check(&req("fs.read", &huge)).is_allowed());
    assert_eq!(auth.cached_verdicts(), 0);
}
