//! Every hostile fixture gets the right typed error, and the host keeps serving afterwards.

use crate::common;

use std::time::Duration;

use common::{Env, call, load, ok_json, rt};
use libos::CallFailure;
use libos::error::LimitKind;
use libos_guests::{BIG_OUTPUT, MEMBOMB, SPIN, TRAP, WORD_COUNT};

fn still_serves(env: &Env, host: &libos::host::ToolHost) {
    let report = rt().block_on(async {
        let tool = load(host, WORD_COUNT).await;
        call(
            host,
            &tool,
            r#"{"text":"still here"}"#,
            &env.options(&[], None),
        )
        .await
    });
    assert_eq!(ok_json(&report)["words"], 2);
}

#[test]
fn infinite_loop_stops_at_the_deadline() {
    let env = Env::new();
    let host = env.host();
    let mut options = env.options(&[], None);
    options.limits.timeout = Duration::from_millis(300);
    let report = rt().block_on(async {
        let tool = load(&host, SPIN).await;
        call(&host, &tool, "{}", &options).await
    });
    assert_eq!(
        report.result,
        Err(CallFailure::LimitExceeded(LimitKind::Time))
    );
    assert!(
        report.elapsed < Duration::from_secs(3),
        "{:?}",
        report.elapsed
    );
    still_serves(&env, &host);
}

#[test]
fn infinite_loop_stops_when_fuel_runs_out() {
    let env = Env::new();
    let host = env.host();
    let mut options = env.options(&[], None);
    options.limits.fuel = 5_000_000;
    let report = rt().block_on(async {
        let tool = load(&host, SPIN).await;
        call(&host, &tool, "{}", &options).await
    });
    assert_eq!(
        report.result,
        Err(CallFailure::LimitExceeded(LimitKind::Fuel))
    );
    assert!(report.fuel_used >= 5_000_000 - 1000, "{}", report.fuel_used);
    still_serves(&env, &host);
}

#[test]
fn memory_bomb_stops_at_the_cap() {
    let env = Env::new();
    let host = env.host();
    let mut options = env.options(&[], None);
    options.limits.max_memory = 32 << 20;
    let report = rt().block_on(async {
        let tool = load(&host, MEMBOMB).await;
        call(&host, &tool, "{}", &options).await
    });
    assert_eq!(
        report.result,
        Err(CallFailure::LimitExceeded(LimitKind::Memory))
    );
    still_serves(&env, &host);
}

#[test]
fn hundred_megabyte_output_is_refused() {
    let env = Env::new();
    let host = env.host();
    let report = rt().block_on(async {
        let tool = load(&host, BIG_OUTPUT).await;
        call(&host, &tool, "{}", &env.options(&[], None)).await
    });
    assert_eq!(
        report.result,
        Err(CallFailure::LimitExceeded(LimitKind::Output))
    );
    still_serves(&env, &host);
}

#[test]
fn log_flood_is_capped_not_fatal() {
    let env = Env::new();
    let host = env.host();
    let report = rt().block_on(async {
        let tool = load(&host, BIG_OUTPUT).await;
        call(
            &host,
            &tool,
            r#"{"bytes": 4194304, "via_log": true}"#,
            &env.options(&[], None),
        )
        .await
    });
    assert_eq!(report.result.as_deref(), Ok("{}"));
    let kept: usize = report.log.iter().map(|l| l.message.len()).sum();
    assert_eq!(kept, libos::Limits::default().max_log);
    assert_eq!(kept as u64 + report.log_dropped, 4 * 1024 * 1024);
}

#[test]
fn traps_are_reported_as_traps() {
    let env = Env::new();
    let host = env.host();
    for mode in ["panic", "unreachable", "stack"] {
        let report = rt().block_on(async {
            let tool = load(&host, TRAP).await;
            call(
                &host,
                &tool,
                &format!(r#"{{"mode":"{mode}"}}"#),
                &env.options(&[], None),
            )
            .await
        });
        match &report.result {
            // Runaway recursion overflows the shadow stack in linear memory first: wasmtime
            // reports an out-of-bounds access (or a stack overflow, for small frames).
            Err(CallFailure::Trap(msg)) => assert!(!msg.is_empty()),
            other => panic!("{mode}: expected a trap, got {other:?}"),
        }
    }
    still_serves(&env, &host);
}

#[test]
fn invalid_input_is_a_tool_error() {
    let env = Env::new();
    let host = env.host();
    let report = rt().block_on(async {
        let tool = load(&host, WORD_COUNT).await;
        call(&host, &tool, "this is not json", &env.options(&[], None)).await
    });
    assert!(
        matches!(report.result, Err(CallFailure::InvalidInput(_))),
        "{:?}",
        report.result
    );
}
