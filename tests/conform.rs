//! `libos conform` on the fixture suite: a conforming tool, a plain component with every kind
//! of WIT value (its resource functions warned about), and one fixture per way to fail (a
//! refused import, a trap, a call that exhausts the default limits, not a component).

use crate::common;

use common::Env;
use libos_guests as guests;
use serde_json::Value;

/// The report of `libos conform --json` on `component`, and the exit code.
fn conform(env: &Env, component: &str) -> (Value, i32) {
    let out = env
        .libos()
        .args(["conform", "--json", component])
        .output()
        .expect("libos conform");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (report, out.status.code().unwrap_or(-1))
}

/// The outcome of the check named `name` (`pass`, `warn`, `fail`).
fn outcome<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == name))
        .and_then(|c| c["outcome"].as_str())
        .unwrap_or("(no such check)")
}

#[test]
fn a_conforming_tool_passes_every_check() {
    let env = Env::new();
    let (report, code) = conform(&env, guests::WORD_COUNT);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["kind"], "tool");
    for check in [
        "imports",
        "describe",
        "call word_count (invoke)",
        "fuel limit word_count (invoke)",
        "memory limit word_count (invoke)",
        "time limit word_count (invoke)",
        "determinism word_count (invoke)",
    ] {
        assert_eq!(outcome(&report, check), "pass", "{check}: {report}");
    }
}

#[test]
fn a_plain_component_is_called_per_function_and_resources_are_warned_about() {
    let env = Env::new();
    let (report, code) = conform(&env, guests::ZOO);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["kind"], "plain");
    assert_eq!(outcome(&report, "function zoo.read-counter"), "warn");
    for f in [
        "hello",
        "zoo.add-u8",
        "zoo.area",
        "zoo.nested",
        "zoo.big-shapes",
    ] {
        assert_eq!(
            outcome(&report, &format!("call {f}")),
            "pass",
            "{f}: {report}"
        );
        assert_eq!(outcome(&report, &format!("determinism {f}")), "pass", "{f}");
    }
}

#[test]
fn each_way_to_fail_is_a_failed_check_and_exit_14() {
    let env = Env::new();
    // Its schema admits `{}`, which it then refuses as invalid: the schema does not say what
    // it takes. (The limits were not exercised: warned, not passed.)
    let (report, code) = conform(&env, guests::OVERREACH);
    assert_eq!(code, 14, "{report}");
    assert_eq!(
        outcome(&report, "call overreach (invoke)"),
        "fail",
        "{report}"
    );
    // Refused before it reaches a limit: not exercised; under a loaded machine the 1 ms
    // limit may stop it first, which is a pass.
    assert!(
        ["warn", "pass"].contains(&outcome(&report, "time limit overreach (invoke)")),
        "{report}"
    );

    // An agent is run as an image, not called as a tool: a report, and exit 14.
    let (report, code) = conform(&env, guests::AGENT_SCRIPT);
    assert_eq!(code, 14, "{report}");
    assert_eq!(
        outcome(&report, "import libos:runtime/process@0.1.0"),
        "fail",
        "{report}"
    );

    let lookalike = common::component_importing(
        env.work.path(),
        "lookalike.wasm",
        &["libos:runtimex/fs@0.1.0"],
    );
    let (report, code) = conform(&env, lookalike.to_str().unwrap());
    assert_eq!(code, 14, "{report}");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(
        outcome(&report, "import libos:runtimex/fs@0.1.0"),
        "fail",
        "{report}"
    );

    let (report, code) = conform(&env, guests::TRAP);
    assert_eq!(code, 14, "{report}");
    assert_eq!(outcome(&report, "call trap (invoke)"), "fail", "{report}");

    let (report, code) = conform(&env, guests::SPIN);
    assert_eq!(code, 14, "{report}");
    assert_eq!(outcome(&report, "call spin (invoke)"), "fail", "{report}");
    // At each tiny budget it stops with that limit, typed.
    assert_eq!(
        outcome(&report, "time limit spin (invoke)"),
        "pass",
        "{report}"
    );
    assert_eq!(
        outcome(&report, "fuel limit spin (invoke)"),
        "pass",
        "{report}"
    );

    // Not a component at all: no report, the command says what it is.
    let out = env
        .libos()
        .args(["conform", guests::WORD_COUNT_CORE])
        .output()
        .expect("libos conform");
    assert_eq!(out.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&out.stderr).contains("core WebAssembly module"));
}
