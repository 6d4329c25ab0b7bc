//! Allow, deny and ask for the clock and log primitives. Both are ambient (every call holds
//! them), but the policy still decides and every decision is audited.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Env, call, load, ok_json, rt};
use libos::CallFailure;
use libos::host::{HostOptions, ToolHost};
use libos::providers::FixedClock;
use libos_guests::{BENCH_LOOP, BIG_OUTPUT};

fn fixed_host(env: &Env) -> ToolHost {
    ToolHost::new(HostOptions {
        state_dir: Some(env.state.path().to_path_buf()),
        clock: Arc::new(FixedClock::new(Duration::from_secs(1_700_000_000), 10)),
        ..HostOptions::default()
    })
    .expect("host")
}

const FORBID_CLOCK: &str = r#"permit(principal, action, resource);
@id("no-clock") forbid(principal, action == Action::"clock.read", resource);"#;
const ASK_CLOCK: &str = r#"@id("ask-clock") @decision("ask") permit(principal, action == Action::"clock.read", resource);"#;
const FORBID_LOG: &str = r#"permit(principal, action, resource);
@id("no-log") forbid(principal, action == Action::"log.write", resource);"#;
const ASK_LOG: &str = r#"@id("ask-log") @decision("ask") permit(principal, action == Action::"log.write", resource);"#;

fn count(env: &Env, host: &ToolHost, verdict: &str, action: &str) -> usize {
    env.audit(host)
        .iter()
        .filter(|r| r.0 == verdict && r.1 == action)
        .count()
}

#[test]
fn clock_allow_deny_ask() {
    let env = Env::new();
    let host = fixed_host(&env);
    let input = r#"{"op":"clock","n":3}"#;
    let run = |policy: Option<&str>| {
        rt().block_on(async {
            let tool = load(&host, BENCH_LOOP).await;
            call(&host, &tool, input, &env.options(&[], policy)).await
        })
    };
    // Allowed without any capability: the fixed clock's monotonic readings are 0, 10, 20.
    assert_eq!(ok_json(&run(None))["acc"], 30);
    assert_eq!(count(&env, &host, "allow", "clock.read"), 3);

    let denied = run(Some(FORBID_CLOCK));
    assert!(
        matches!(&denied.result, Err(CallFailure::Denied(m)) if m.contains("no-clock")),
        "{:?}",
        denied.result
    );
    assert_eq!(count(&env, &host, "deny", "clock.read"), 1);

    let ask = run(Some(ASK_CLOCK));
    assert!(
        matches!(&ask.result, Err(CallFailure::NeedsApproval(id)) if id.starts_with("req-")),
        "{:?}",
        ask.result
    );
    assert_eq!(count(&env, &host, "ask", "clock.read"), 1);
}

#[test]
fn log_allow_deny_ask() {
    let env = Env::new();
    let host = fixed_host(&env);
    let input = r#"{"bytes": 131072, "via_log": true}"#;
    let run = |policy: Option<&str>| {
        rt().block_on(async {
            let tool = load(&host, BIG_OUTPUT).await;
            call(&host, &tool, input, &env.options(&[], policy)).await
        })
    };
    let allowed = run(None);
    assert_eq!(allowed.result.as_deref(), Ok("{}"));
    assert!(!allowed.log.is_empty());
    // Decided once per call, whatever the number of messages.
    assert_eq!(count(&env, &host, "allow", "log.write"), 1);

    // A refused message is dropped (the tool carries on) and the refusal is audited.
    for (policy, verdict) in [(FORBID_LOG, "deny"), (ASK_LOG, "ask")] {
        let report = run(Some(policy));
        assert_eq!(report.result.as_deref(), Ok("{}"), "{verdict}");
        assert!(report.log.is_empty(), "{verdict}: nothing logged");
        assert_eq!(count(&env, &host, verdict, "log.write"), 1, "{verdict}");
    }
}
