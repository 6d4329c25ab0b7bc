//! The two decision layers and the audit record each check leaves.

mod common;

use common::{authority, req};
use libos_authority::{Decision, Refusal, Request, Verdict};

const POLICY: &str = r#"
@id("no-secrets")
forbid(principal, action, resource) when { resource.path like "secrets/*" };

@id("ask-writes") @decision("ask")
permit(principal, action == Action::"fs.write", resource);

@id("fs-family")
permit(principal, action in Action::"fs", resource);
"#;

#[test]
fn allow_when_capability_and_permit() {
    let (auth, sink) = authority(&["fs.read:docs/**"], None);
    let d = auth.check(&req("fs.read", "docs/a.md"));
    assert_eq!(
        d,
        Decision::Allow {
            policy_ids: vec!["default-permit".to_owned()].into()
        }
    );
    assert_eq!(d.verdict(), Verdict::Allow);
    let records = sink.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.decided.verdict, Verdict::Allow);
    assert_eq!(&*r.decided.subject, "tool:test");
    assert_eq!(&*r.decided.action, "fs.read");
    assert_eq!(&*r.decided.resource, "docs/a.md");
    assert_eq!(
        r.decided.policy_ids.to_vec(),
        vec!["default-permit".to_owned()]
    );
    assert_eq!(r.request_id, None);
    assert!(
        r.decided.reason.contains("fs.read:docs/**"),
        "{}",
        r.decided.reason
    );
    assert!(r.time_ns > 0);
}

#[test]
fn deny_without_capability_is_audited() {
    let (auth, sink) = authority(&["fs.read:docs/**"], None);
    let d = auth.check(&req("fs.read", "src/main.rs"));
    let reason = "no capability grants fs.read on src/main.rs";
    assert_eq!(
        d,
        Decision::Deny {
            reason: reason.into(),
            policy_ids: Vec::new().into()
        }
    );
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].decided.verdict, Verdict::Deny);
    assert_eq!(&*records[0].decided.reason, reason);
    assert!(records[0].decided.policy_ids.is_empty());
}

#[test]
fn deny_without_capability_even_if_policy_permits() {
    let (auth, _) = authority(&["fs.read:docs/**"], Some(POLICY));
    let d = auth.check(&req("fs.write", "docs/a.md"));
    assert_eq!(d.verdict(), Verdict::Deny);
    assert!(
        d.reason().starts_with("no capability grants fs.write"),
        "{d:?}"
    );
}

#[test]
fn forbid_wins_over_permit_and_ask() {
    let (auth, sink) = authority(&["fs.*"], Some(POLICY));
    let read = auth.check(&req("fs.read", "secrets/key"));
    assert_eq!(read.verdict(), Verdict::Deny);
    assert_eq!(read.policy_ids(), ["no-secrets".to_owned()]);
    assert!(read.reason().contains("no-secrets"), "{read:?}");

    // fs.write matches both the ask permit and the plain permit; forbid still wins.
    let write = auth.check(&req("fs.write", "secrets/key"));
    assert_eq!(write.verdict(), Verdict::Deny);
    assert_eq!(write.policy_ids(), ["no-secrets".to_owned()]);

    let records = sink.records();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.decided.verdict == Verdict::Deny));
    assert!(records.iter().all(|r| r.request_id.is_none()));
}

#[test]
fn like_pattern_only_covers_its_paths() {
    let (auth, _) = authority(&["fs.*"], Some(POLICY));
    assert!(auth.check(&req("fs.read", "docs/secrets/key")).is_allowed());
    assert!(auth.check(&req("fs.read", "secretsx/key")).is_allowed());
    // Cedar `like` `*` crosses `/`.
    assert_eq!(
        auth.check(&req("fs.read", "secrets/a/b")).verdict(),
        Verdict::Deny
    );
}

#[test]
fn default_deny_when_no_permit_matches() {
    let src = r#"@id("reads") permit(principal, action == Action::"fs.read", resource);"#;
    let (auth, sink) = authority(&["fs.*"], Some(src));
    let d = auth.check(&req("fs.delete", "a.txt"));
    assert_eq!(
        d,
        Decision::Deny {
            reason: "no policy permits fs.delete on a.txt".into(),
            policy_ids: Vec::new().into()
        }
    );
    assert!(auth.check(&req("fs.read", "a.txt")).is_allowed());
    assert_eq!(sink.len(), 2);
}

#[test]
fn empty_policy_denies_everything() {
    let (auth, _) = authority(&["*"], Some("// nothing here\n"));
    let d = auth.check(&req("fs.read", "a"));
    assert_eq!(d.verdict(), Verdict::Deny);
    assert_eq!(d.reason(), "no policy permits fs.read on a");
}

#[test]
fn ask_mints_fresh_request_ids_and_audits_them() {
    let (auth, sink) = authority(&["fs.write:out/*.txt"], Some(POLICY));
    let first = auth.check(&req("fs.write", "out/a.txt"));
    let second = auth.check(&req("fs.write", "out/a.txt"));
    let (
        Decision::Ask {
            request_id: id1,
            policy_ids,
            reason,
        },
        Decision::Ask {
            request_id: id2, ..
        },
    ) = (&first, &second)
    else {
        panic!("expected two asks, got {first:?} and {second:?}");
    };
    assert!(id1.starts_with("req-") && id2.starts_with("req-"));
    assert_ne!(id1, id2);
    // Ask wins over the plain permit that also matched; both are reported.
    assert_eq!(
        &policy_ids[..],
        &["ask-writes".to_owned(), "fs-family".to_owned()]
    );
    assert!(reason.contains("ask-writes"), "{reason}");
    assert!(!reason.contains("fs-family"), "{reason}");

    let records = sink.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].decided.verdict, Verdict::Ask);
    assert_eq!(records[0].request_id.as_deref(), Some(id1.as_str()));
    assert_eq!(records[1].request_id.as_deref(), Some(id2.as_str()));
    assert_eq!(records[0].decided.reason, *reason);
}

#[test]
fn id_annotations_name_policies_and_generated_ids_fill_in() {
    let src = r#"
        permit(principal, action == Action::"fs.read", resource);
        @id("named") permit(principal, action in Action::"fs", resource);
    "#;
    let (auth, sink) = authority(&["fs.*"], Some(src));
    let d = auth.check(&req("fs.read", "a"));
    assert_eq!(d.policy_ids(), ["policy0".to_owned(), "named".to_owned()]);
    let d = auth.check(&req("fs.list", "a"));
    assert_eq!(d.policy_ids(), ["named".to_owned()]);
    assert_eq!(
        sink.records()[1].decided.policy_ids.to_vec(),
        vec!["named".to_owned()]
    );
}

#[test]
fn action_in_family_works() {
    let src = r#"@id("fs-only") permit(principal, action in Action::"fs", resource);"#;
    let (auth, _) = authority(&["*"], Some(src));
    assert!(auth.check(&req("fs.read", "a")).is_allowed());
    assert!(auth.check(&req("fs.write", "a")).is_allowed());
    assert_eq!(auth.check(&req("net.get", "a")).verdict(), Verdict::Deny);
    assert_eq!(auth.check(&req("fsx.read", "a")).verdict(), Verdict::Deny);
}

#[test]
fn resource_kind_and_principal_and_context() {
    let src = r#"
        @id("kind") permit(principal == Subject::"tool:test", action, resource)
            when { resource.kind == "fs" && context.subject == "tool:test" && context.action like "fs.*" };
    "#;
    let (auth, _) = authority(&["*"], Some(src));
    assert!(auth.check(&req("fs.read", "a")).is_allowed());
    assert_eq!(auth.check(&req("net.get", "a")).verdict(), Verdict::Deny);
    let other = Request {
        subject: "tool:other",
        ..req("fs.read", "a")
    };
    assert_eq!(auth.check(&other).verdict(), Verdict::Deny);
}

#[test]
fn digest_is_audited_as_hex_and_visible_to_policies() {
    let digest = [0xab_u8; 32];
    let hexed = "ab".repeat(32);
    let src = format!(
        r#"@id("pinned") permit(principal, action, resource) when {{ context.digest == "{hexed}" }};"#
    );
    let (auth, sink) = authority(&["*"], Some(&src));
    let with = Request {
        args_digest: Some(&digest),
        ..req("fs.write", "a")
    };
    assert!(auth.check(&with).is_allowed());
    // Same action and resource, other digest: must not reuse the cached allow.
    let other_digest = [0u8; 32];
    let other = Request {
        args_digest: Some(&other_digest),
        ..req("fs.write", "a")
    };
    assert_eq!(auth.check(&other).verdict(), Verdict::Deny);
    assert_eq!(auth.check(&req("fs.write", "a")).verdict(), Verdict::Deny);
    assert!(auth.check(&with).is_allowed());
    let records = sink.records();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].args_digest.as_deref(), Some(hexed.as_str()));
    assert_eq!(records[2].args_digest, None);
}

#[test]
fn evaluation_errors_count_as_not_applying() {
    // `resource.owner` does not exist: both policies error and are ignored.
    let src = r#"
        @id("broken-permit") permit(principal, action, resource) when { resource.owner == "me" };
        @id("broken-forbid") forbid(principal, action, resource) when { resource.owner == "x" };
        @id("reads") permit(principal, action == Action::"fs.read", resource);
    "#;
    let (auth, _) = authority(&["*"], Some(src));
    let read = auth.check(&req("fs.read", "a"));
    assert_eq!(read.policy_ids(), ["reads".to_owned()]);
    let write = auth.check(&req("fs.write", "a"));
    assert_eq!(write.verdict(), Verdict::Deny);
    assert!(
        write
            .reason()
            .starts_with("no policy permits fs.write on a"),
        "{write:?}"
    );
    assert!(write.reason().contains("broken-permit"), "{write:?}");
    assert!(!write.reason().contains("broken-forbid"), "{write:?}");
    let explained = auth.explain("fs.read", "a");
    assert!(explained.reason.contains("broken-forbid"), "{explained}");
}

#[test]
fn exactly_one_record_per_check() {
    let (auth, sink) = authority(&["fs.read:docs/**", "fs.write:out/*"], Some(POLICY));
    let requests = [
        ("fs.read", "docs/a"),
        ("fs.read", "docs/a"),
        ("fs.write", "out/b"),
        ("fs.write", "docs/a"),
        ("fs.read", "secrets/x"),
    ];
    for (i, (a, r)) in requests.iter().enumerate() {
        auth.check(&req(a, r));
        assert_eq!(sink.len(), i + 1);
    }
    let verdicts: Vec<Verdict> = sink.records().iter().map(|r| r.decided.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Allow,
            Verdict::Allow,
            Verdict::Ask,
            Verdict::Deny,
            Verdict::Deny
        ]
    );
}

#[test]
fn authority_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<libos_authority::Authority>();
    let (auth, sink) = authority(&["fs.read:docs/**"], None);
    let auth = std::sync::Arc::new(auth);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let auth = auth.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let resource = format!("docs/{}", (i + t) % 7);
                    assert!(auth.check(&req("fs.read", &resource)).is_allowed());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(sink.len(), 400);
}

#[test]
fn authorize_decides_and_audits_exactly_like_check() {
    let specs = ["fs.read:**", "fs.write:**"];
    let cases = [
        ("fs.read", "docs/a.md"),
        ("fs.read", "secrets/key"),
        ("fs.write", "docs/a.md"),
        ("fs.delete", "docs/a.md"),
    ];
    for (action, resource) in cases {
        let (checker, check_sink) = authority(&specs, Some(POLICY));
        let (authorizer, auth_sink) = authority(&specs, Some(POLICY));
        let request = req(action, resource);
        let decision = checker.check(&request);
        let outcome = authorizer.authorize(&request);
        match (&decision, &outcome) {
            (Decision::Allow { .. }, Ok(())) => {}
            (Decision::Deny { reason, .. }, Err(Refusal::Denied { reason: r })) => {
                assert_eq!(reason, r)
            }
            (
                Decision::Ask { reason, .. },
                Err(Refusal::NeedsApproval {
                    request_id,
                    reason: r,
                }),
            ) => {
                assert_eq!(reason, r);
                assert!(request_id.starts_with("req-"), "{request_id}");
            }
            other => panic!("{action} {resource}: check and authorize differ: {other:?}"),
        }
        let (by_check, by_authorize) = (check_sink.records(), auth_sink.records());
        assert_eq!(by_check.len(), 1, "{action} {resource}");
        assert_eq!(by_authorize.len(), 1, "{action} {resource}");
        assert_eq!(by_check[0].decided, by_authorize[0].decided);
        if let Err(Refusal::NeedsApproval { request_id, .. }) = &outcome {
            assert_eq!(by_authorize[0].request_id.as_ref(), Some(request_id));
        } else {
            assert_eq!(by_authorize[0].request_id, None);
        }
    }
}

#[test]
fn repeated_authorize_shares_one_decided_between_records() {
    let (auth, sink) = authority(&["fs.read:**"], None);
    for _ in 0..3 {
        assert_eq!(auth.authorize(&req("fs.read", "a.txt")), Ok(()));
    }
    let records = sink.records();
    assert_eq!(records.len(), 3);
    assert!(std::sync::Arc::ptr_eq(
        &records[0].decided,
        &records[2].decided
    ));
}
