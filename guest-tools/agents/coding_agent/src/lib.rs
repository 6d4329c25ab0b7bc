//! Agent `coding_agent`: the scripted demo agent. Reads a source file through a tool, files
//! the tracebacks of a pytest log in object memory, has a `log-parser` child parse the log and
//! reports what failed. No model is involved: every step is fixed.
//!
//! Input: `{"log": "<path of a pytest log>", "source": "<path of a source file>"}`.
//!
//! Steps, in order:
//! 1. `tools.call("read_file", {"path": source})`: the source's size in bytes.
//! 2. `fs.read(log)`; each traceback section ([`traces`]) is stored with
//!    `memory.put(none, "error-trace", <test name or "log">, {"test", "log", "trace",
//!    "truncated"})`.
//! 3. `process.spawn("log-parser", {"log": log}, [fs.read on log])`: the child may read the
//!    log and nothing else.
//! 4. `process.wait(child)`.
//! 5. `memory.put(none, "parse-result", "latest", <the child's output>)`.
//! 6. `events.emit("coding-agent.done", {"child", "failed_count", "trace_objects"})`.
//!
//! Output: `{"source_bytes": N, "trace_objects": N, "child": pid, "child_status": {"state":
//! "exited", "output": {...}}, "failed": [{"test", "error"}, ...]}`.
//!
//! Errors (the `err` string, `{"kind", "message"}`): `invalid-input` for a bad input or a log
//! path holding glob characters (`*?[]{}\`, which would widen the child's capability); the
//! kind of the first failing primitive or tool call (`denied`, `not-found`, `limit-exceeded`,
//! …) with a message naming the step; `child-failed` when the child did not exit normally;
//! `bad-child-output` when its output is not a JSON object.

mod traces;

use libos_agent_sdk::{
    Agent, Context, ExitStatus, Failure, Value, cap, events, exit_status_json, fs, json, log,
    memory, process, run_json, text, tools,
};

/// The image of the child that parses the log.
const LOG_PARSER_IMAGE: &str = "log-parser";
/// The topic announcing the end of a run.
const DONE_TOPIC: &str = "coding-agent.done";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    log: String,
    source: String,
}

struct CodingAgent;

impl Agent for CodingAgent {
    fn run(input: String) -> Result<String, String> {
        run_json(&input, coding_agent)
    }
}

libos_agent_sdk::export_agent!(CodingAgent);

fn coding_agent(input: Input) -> Result<Value, Failure> {
    let log_path = normalize(&input.log)?;
    let source_bytes = source_size(&input.source)?;
    info(&format!("source `{}`: {source_bytes} bytes", input.source));

    let log_text = text(fs::read(&log_path).during(&format!("fs.read `{log_path}`"))?);
    let traces = traces::extract(&log_text);
    for trace in &traces {
        let value = json!({
            "test": trace.key, "log": log_path, "trace": trace.text, "truncated": trace.truncated,
        });
        memory::put(None, "error-trace", &trace.key, &value.to_string())
            .during(&format!("memory.put error-trace `{}`", trace.key))?;
    }
    info(&format!("stored {} traceback(s)", traces.len()));

    let child_input = json!({ "log": log_path }).to_string();
    let child = process::spawn(
        LOG_PARSER_IMAGE,
        &child_input,
        &[cap("fs.read", &log_path)],
        None,
    )
    .during(&format!("process.spawn `{LOG_PARSER_IMAGE}`"))?;
    let status = process::wait(child).during(&format!("process.wait {child}"))?;
    let ExitStatus::Exited(report_text) = &status else {
        let status = exit_status_json(&status);
        return Err(Failure::new(
            "child-failed",
            format!("log-parser child {child}: {status}"),
        ));
    };
    let report: Value = serde_json::from_str(report_text)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Failure::new(
                "bad-child-output",
                format!("log-parser child {child}: not a JSON object"),
            )
        })?;

    memory::put(None, "parse-result", "latest", report_text)
        .during("memory.put parse-result `latest`")?;
    let done = json!({ "child": child, "failed_count": report["failed_count"], "trace_objects": traces.len() });
    events::emit(DONE_TOPIC, &done.to_string()).during(&format!("events.emit `{DONE_TOPIC}`"))?;

    Ok(json!({
        "source_bytes": source_bytes,
        "trace_objects": traces.len(),
        "child": child,
        "child_status": exit_status_json(&status),
        "failed": report["failed"],
    }))
}

/// Size of the source file as the `read_file` tool reports it (its `size`, else the length of
/// its `content`).
fn source_size(path: &str) -> Result<u64, Failure> {
    let out = tools::call("read_file", &json!({ "path": path }).to_string())
        .during(&format!("tools.call read_file `{path}`"))?;
    let out: Value = serde_json::from_str(&out)
        .map_err(|e| Failure::new("bad-tool-output", format!("read_file: {e}")))?;
    out["size"]
        .as_u64()
        .or_else(|| {
            out["content"]
                .as_str()
                .and_then(|c| u64::try_from(c.len()).ok())
        })
        .ok_or_else(|| Failure::new("bad-tool-output", "read_file: no `size` or `content`"))
}

/// The log path as the host checks it: `.` and empty segments dropped. Glob characters are
/// refused because the path doubles as the child's capability pattern.
fn normalize(path: &str) -> Result<String, Failure> {
    if let Some(c) = path.chars().find(|c| "*?[]{}\\".contains(*c)) {
        return Err(Failure::new(
            "invalid-input",
            format!("log path `{path}` holds the glob character `{c}`"),
        ));
    }
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if segments.is_empty() {
        return Err(Failure::new(
            "invalid-input",
            format!("log path `{path}` names no file"),
        ));
    }
    let normalized = segments.join("/");
    Ok(if path.starts_with('/') {
        format!("/{normalized}")
    } else {
        normalized
    })
}

fn info(message: &str) {
    log::log(log::Level::Info, message);
}
