//! Sessions: the same decisions as the authority, a per-caller memo, batched audit records.

mod common;

use std::sync::Arc;

use common::{authority, req};
use libos_audit::Verdict;
use libos_authority::{Refusal, Request, SESSION_BATCH, Session};

const POLICY: &str = r#"
@id("all") permit(principal, action, resource);
@id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };
@id("no-bad-args") forbid(principal, action, resource) when { context.digest == "00" };
"#;

fn digest_req<'a>(resource: &'a str, digest: &'a [u8; 32]) -> Request<'a> {
    Request {
        args_digest: Some(digest),
        ..req("fs.read", resource)
    }
}

#[test]
fn session_decides_like_the_authority_and_records_every_call_in_order() {
    let (auth, sink) = authority(&["fs.read:**"], Some(POLICY));
    let mut session = Session::new(Arc::new(auth));
    let calls = [
        ("fs.read", "a.txt"),
        ("fs.read", "a.txt"),
        ("fs.read", "secrets/key"),
        ("fs.read", "a.txt"),
        ("fs.write", "a.txt"),
        ("fs.write", "a.txt"),
    ];
    let outcomes: Vec<_> = calls
        .iter()
        .map(|(a, r)| session.authorize(&req(a, r)))
        .collect();
    assert_eq!(outcomes[0], Ok(()));
    assert_eq!(outcomes[1], Ok(()));
    assert!(
        matches!(&outcomes[2], Err(Refusal::Denied { reason }) if reason.contains("no-secrets")),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(outcomes[3], Ok(()), "the memo must not keep the denial");
    assert!(matches!(outcomes[4], Err(Refusal::Denied { .. })));
    assert!(matches!(outcomes[5], Err(Refusal::Denied { .. })));

    // Held by the session until it hands them off; then all of them, in call order.
    assert_eq!(sink.len(), 0);
    session.hand_off();
    let records = sink.records();
    let seen: Vec<(&str, &str, Verdict)> = records
        .iter()
        .map(|r| (&*r.decided.action, &*r.decided.resource, r.decided.verdict))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("fs.read", "a.txt", Verdict::Allow),
            ("fs.read", "a.txt", Verdict::Allow),
            ("fs.read", "secrets/key", Verdict::Deny),
            ("fs.read", "a.txt", Verdict::Allow),
            ("fs.write", "a.txt", Verdict::Deny),
            ("fs.write", "a.txt", Verdict::Deny),
        ]
    );
}

#[test]
fn a_full_batch_and_a_dropped_session_reach_the_sink() {
    let (auth, sink) = authority(&["fs.read:**"], None);
    let mut session = Session::new(Arc::new(auth));
    for _ in 0..SESSION_BATCH - 1 {
        assert_eq!(session.authorize(&req("fs.read", "a")), Ok(()));
    }
    assert_eq!(sink.len(), 0);
    assert_eq!(session.authorize(&req("fs.read", "a")), Ok(()));
    assert_eq!(sink.len(), SESSION_BATCH);
    assert_eq!(session.authorize(&req("fs.read", "a")), Ok(()));
    drop(session);
    assert_eq!(sink.len(), SESSION_BATCH + 1);
}

#[test]
fn check_and_refuse_keep_the_callers_order() {
    let (auth, sink) = authority(&["fs.read:**"], None);
    let mut session = Session::new(Arc::new(auth));
    assert_eq!(session.authorize(&req("fs.read", "first")), Ok(()));
    session.refuse(&req("fs.read", "../escape"), "leaves the working directory");
    assert!(session.check(&req("fs.read", "third")).is_allowed());
    let resources: Vec<String> = sink
        .records()
        .iter()
        .map(|r| r.decided.resource.to_string())
        .collect();
    assert_eq!(resources, ["first", "../escape", "third"]);
}

#[test]
fn the_memo_tells_digests_apart_when_the_policy_reads_them() {
    let (good, bad) = ([1u8; 32], [0u8; 32]);
    let forbids_bad = POLICY.replace("\"00\"", &format!("\"{}\"", hex_of(&bad)));
    let (auth, sink) = authority(&["fs.read:**"], Some(&forbids_bad));
    let mut session = Session::new(Arc::new(auth));
    assert_eq!(session.authorize(&digest_req("a.txt", &good)), Ok(()));
    // Same request, other arguments: decided again, not answered from the memo.
    assert!(matches!(
        session.authorize(&digest_req("a.txt", &bad)),
        Err(Refusal::Denied { .. })
    ));
    assert_eq!(session.authorize(&digest_req("a.txt", &good)), Ok(()));
    drop(session);
    assert_eq!(sink.len(), 3);
}

#[test]
fn records_of_a_repeated_decision_keep_their_own_arguments_and_request_ids() {
    // The policy does not read digests, so all three calls repeat one decision.
    let (auth, sink) = authority(&["fs.read:**"], Some(POLICY));
    let mut session = Session::new(Arc::new(auth));
    let digests = [[1u8; 32], [2u8; 32], [3u8; 32]];
    for d in &digests {
        assert_eq!(session.authorize(&digest_req("a.txt", d)), Ok(()));
    }
    let asks = r#"@id("ask") @decision("ask") permit(principal, action, resource);"#;
    let (auth, ask_sink) = authority(&["fs.read:**"], Some(asks));
    let mut asking = Session::new(Arc::new(auth));
    let ids: Vec<String> = (0..2)
        .map(|_| match asking.authorize(&req("fs.read", "a.txt")) {
            Err(Refusal::NeedsApproval { request_id, .. }) => request_id,
            other => panic!("expected needs-approval, got {other:?}"),
        })
        .collect();
    assert_ne!(ids[0], ids[1], "every ask mints its own request");
    drop((session, asking));
    let recorded: Vec<Option<String>> = sink
        .records()
        .iter()
        .map(|r| r.args_digest.clone())
        .collect();
    let expected: Vec<Option<String>> = digests.iter().map(|d| Some(hex_of(d))).collect();
    assert_eq!(recorded, expected);
    let recorded_ids: Vec<Option<String>> = ask_sink
        .records()
        .iter()
        .map(|r| r.request_id.clone())
        .collect();
    assert_eq!(recorded_ids, ids.into_iter().map(Some).collect::<Vec<_>>());
}

#[test]
fn sessions_sharing_an_authority_share_its_verdicts_not_their_memos() {
    let (auth, sink) = authority(&["fs.read:docs/**"], None);
    let auth = Arc::new(auth);
    let mut one = Session::new(Arc::clone(&auth));
    let mut two = Session::new(Arc::clone(&auth));
    assert_eq!(one.authorize(&req("fs.read", "docs/a")), Ok(()));
    assert!(matches!(
        two.authorize(&req("fs.read", "src/a")),
        Err(Refusal::Denied { .. })
    ));
    assert_eq!(two.authorize(&req("fs.read", "docs/a")), Ok(()));
    assert_eq!(auth.cached_verdicts(), 2);
    drop((one, two));
    assert_eq!(sink.len(), 3);
}

fn hex_of(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
