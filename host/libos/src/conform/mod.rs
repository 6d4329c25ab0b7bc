//! `libos conform`: whether a component is a good citizen, as a report its author can act on.
//!
//! Checks, in order: every import is one the host serves (each refused one fails, naming why);
//! what it exports (a tool's `describe()`, or each function with the JSON Schema of its
//! arguments; one with no JSON form is a warning); then, per callable function (or the tool's
//! `invoke`), a call with a sample input valid for its schema under the default limits (a
//! result passes; `invalid-input` fails, since the schema admitted the input; another typed
//! error warns; a trap or an exceeded default limit fails), the same call at a tiny fuel,
//! memory and time budget (it must stop with the matching typed `limit-exceeded`, or finish
//! within it; a typed error before the limit mattered warns: not exercised; a trap fails),
//! and determinism (two calls with the same seed give the same output and burn the same
//! fuel). Calls hold no capabilities. An agent (agent-only imports) fails: it is run as an
//! image, not called as a tool. The verdict fails when any check does.

pub mod sample;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::{CallFailure, LimitKind, LoadError};
use crate::host::{CallOptions, CallReport, LoadedPlain, LoadedTool, ToolHost};
use crate::limits::Limits;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

/// One check: what was checked, how it came out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub check: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// The conformance report of one component.
#[derive(Debug, Serialize)]
pub struct Report {
    pub path: PathBuf,
    pub digest: String,
    /// `tool` (the `tool` world) or `plain` (one tool per exported function).
    pub kind: &'static str,
    pub checks: Vec<Check>,
    /// `fail` when any check failed, else `pass`.
    pub verdict: Outcome,
}

impl Report {
    fn add(&mut self, check: impl Into<String>, outcome: Outcome, detail: impl Into<String>) {
        self.checks.push(Check {
            check: check.into(),
            outcome,
            detail: detail.into(),
        });
    }
}

/// What is called: a tool's `invoke`, or one function of a plain component.
enum Target<'a> {
    Tool(&'a LoadedTool),
    Function(&'a LoadedPlain, String),
}

impl Target<'_> {
    fn name(&self) -> String {
        match self {
            Target::Tool(tool) => format!("{} (invoke)", tool.info.name),
            Target::Function(_, name) => name.clone(),
        }
    }

    async fn call(&self, host: &ToolHost, input: &str, limits: Limits) -> CallReport {
        let options = CallOptions::holding_nothing(limits, crate::host::Seed::Fixed(7));
        match self {
            Target::Tool(tool) => host.call(tool, input, &options).await,
            Target::Function(plain, name) => host.call_function(plain, name, input, &options).await,
        }
    }
}

/// Runs every check on the component at `path`. `Err` only when it is no component at all
/// (unreadable, malformed, a core module).
pub async fn run(host: &ToolHost, path: &Path) -> Result<Report, LoadError> {
    let seen = host.inspect(path).await?;
    let mut report = Report {
        path: seen.path.clone(),
        digest: seen.digest.clone(),
        kind: if seen.is_tool { "tool" } else { "plain" },
        checks: Vec::new(),
        verdict: Outcome::Pass,
    };
    use crate::wasm::validate::{ImportClass, Strictness};
    let strict = host.strict_imports() == Strictness::Strict;
    let mut refused = 0;
    for import in &seen.imports {
        let (outcome, detail) = match &import.class {
            ImportClass::Refused(why) => (Outcome::Fail, format!("refused: {why}")),
            ImportClass::WasiNetwork(_) if strict => (
                Outcome::Fail,
                "refused: reaches the network, which --strict-imports refuses at load".into(),
            ),
            ImportClass::WasiNetwork(grants) => (
                Outcome::Pass,
                format!("served, each use denied until granted ({grants})"),
            ),
            _ => continue,
        };
        if outcome == Outcome::Fail {
            refused += 1;
        }
        report.add(format!("import {}", import.name), outcome, detail);
    }
    // An agent's interfaces are served to processes only: as a tool it is refused.
    let agent_only: Vec<_> = seen
        .imports
        .iter()
        .filter(|i| crate::wasm::validate::is_agent_only(&i.name))
        .collect();
    for import in &agent_only {
        report.add(
            format!("import {}", import.name),
            Outcome::Fail,
            "served to agent processes only, not to tools (run the component as an image)",
        );
    }
    if !agent_only.is_empty() {
        report.verdict = Outcome::Fail;
        return Ok(report);
    }
    if refused == 0 {
        report.add(
            "imports",
            Outcome::Pass,
            format!("all {} served", seen.imports.len()),
        );
    } else {
        report.verdict = Outcome::Fail;
        return Ok(report);
    }
    if seen.is_tool {
        match host.load(path).await {
            Ok(tool) => {
                report.add(
                    "describe",
                    Outcome::Pass,
                    format!("`{}`, input schema and capabilities valid", tool.info.name),
                );
                let input = sample::of_schema(&tool.info.input_schema).to_string();
                exercise(host, &Target::Tool(&tool), &input, &mut report).await;
            }
            Err(e) => report.add("describe", Outcome::Fail, e.to_string()),
        }
    } else {
        let plain = host.load_plain(path).await?;
        let mut callable = Vec::new();
        for f in &plain.functions {
            match &f.schema {
                Ok(_) => callable.push(f.name.clone()),
                Err(why) => report.add(
                    format!("function {}", f.name),
                    Outcome::Warn,
                    format!("not callable with JSON: {why}"),
                ),
            }
        }
        if callable.is_empty() {
            report.add(
                "functions",
                Outcome::Fail,
                "no exported function has a JSON form",
            );
        } else {
            report.add(
                "functions",
                Outcome::Pass,
                format!("{} callable with JSON", callable.len()),
            );
        }
        for name in callable {
            let input = plain
                .function(&name)
                .map(|f| sample::args(f.ty()).to_string())
                .unwrap_or_default();
            exercise(host, &Target::Function(&plain, name), &input, &mut report).await;
        }
    }
    if report.checks.iter().any(|c| c.outcome == Outcome::Fail) {
        report.verdict = Outcome::Fail;
    }
    Ok(report)
}

/// The round trip, the limits and determinism of one target.
async fn exercise(host: &ToolHost, target: &Target<'_>, input: &str, report: &mut Report) {
    let name = target.name();
    let first = target.call(host, input, Limits::default()).await;
    let (outcome, detail) = match &first.result {
        Ok(out) => match target {
            Target::Tool(_) if serde_json::from_str::<serde_json::Value>(out).is_err() => {
                (Outcome::Fail, "its output is not JSON".to_string())
            }
            _ => (Outcome::Pass, format!("{input} -> {}", clip(out))),
        },
        // The input is valid for the schema it declared: refusing it means the schema
        // admits what the component does not.
        Err(e @ CallFailure::InvalidInput(_)) => (
            Outcome::Fail,
            format!(
                "{input} is valid for its schema, yet refused as invalid: {}",
                clip(&e.to_string())
            ),
        ),
        Err(
            e @ (CallFailure::Failed(_) | CallFailure::Denied(_) | CallFailure::NeedsApproval(_)),
        ) => (
            Outcome::Warn,
            format!("{input} -> a typed error: {}", clip(&e.to_string())),
        ),
        Err(e @ CallFailure::LimitExceeded(_)) => (
            Outcome::Fail,
            format!("{input} -> under the default limits: {e}"),
        ),
        Err(e) => (Outcome::Fail, format!("{input} -> {e}")),
    };
    report.add(format!("call {name}"), outcome, detail);

    let tiny = [
        (
            LimitKind::Fuel,
            Limits {
                fuel: 1_000,
                ..Limits::default()
            },
        ),
        (
            LimitKind::Memory,
            Limits {
                max_memory: 64 << 10,
                ..Limits::default()
            },
        ),
        (
            LimitKind::Time,
            Limits {
                timeout: Duration::from_millis(1),
                ..Limits::default()
            },
        ),
    ];
    for (kind, limits) in tiny {
        let at = target.call(host, input, limits).await;
        let (outcome, detail) = match &at.result {
            Err(CallFailure::LimitExceeded(hit)) if *hit == kind => (
                Outcome::Pass,
                format!("stopped: limit exceeded: {}", kind.as_str()),
            ),
            Ok(_) => (Outcome::Pass, "finished within it".to_string()),
            Err(
                e @ (CallFailure::InvalidInput(_)
                | CallFailure::Failed(_)
                | CallFailure::Denied(_)
                | CallFailure::NeedsApproval(_)),
            ) => (
                // It ended before the limit mattered: the limit was not exercised.
                Outcome::Warn,
                format!(
                    "not exercised: it ended first with {}",
                    clip(&e.to_string())
                ),
            ),
            Err(e) => (Outcome::Fail, e.to_string()),
        };
        report.add(format!("{} limit {name}", kind.as_str()), outcome, detail);
    }

    let second = target.call(host, input, Limits::default()).await;
    let same_output = match (&first.result, &second.result) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.to_string() == b.to_string(),
        _ => false,
    };
    let (outcome, detail) = if !same_output {
        (
            Outcome::Fail,
            "two calls with the same input and seed gave different outputs".into(),
        )
    } else if first.fuel_used != second.fuel_used {
        (
            Outcome::Fail,
            format!(
                "same output, different fuel: {} and {}",
                first.fuel_used, second.fuel_used
            ),
        )
    } else {
        (
            Outcome::Pass,
            format!("same output, {} fuel both times", first.fuel_used),
        )
    };
    report.add(format!("determinism {name}"), outcome, detail);
}

/// At most 200 characters of `text`, for a report line.
fn clip(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
