//! Small helpers shared by agents: JSON in and out, capability requests, errors as JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{CapabilityRequest, Error, ExitStatus, Failure, LimitKind, ToolError, Value, json};

/// Decodes the JSON `input` of `run`; a mismatch is a [`Failure`] of kind `invalid-input`.
pub fn parse_input<T: DeserializeOwned>(input: &str) -> Result<T, Failure> {
    serde_json::from_str(input).map_err(|e| Failure::new("invalid-input", format!("{e}")))
}

/// Encodes a value as the JSON document `run` returns; fails with kind `internal`.
pub fn output<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value)
        .map_err(|e| Failure::new("internal", format!("encoding output: {e}")))
}

/// The whole of a typical `run`: decodes `input` as `I`, calls `body`, encodes its `O`.
/// Every failure, the body's included, becomes the JSON `err` string of a [`Failure`].
pub fn run_json<I, O>(
    input: &str,
    body: impl FnOnce(I) -> Result<O, Failure>,
) -> Result<String, String>
where
    I: DeserializeOwned,
    O: Serialize,
{
    let input = parse_input(input)?;
    let result = body(input)?;
    Ok(output(&result)?)
}

/// A capability request: `action` (e.g. `fs.read`) on the `resource` pattern (a glob).
pub fn cap(action: &str, resource: &str) -> CapabilityRequest {
    CapabilityRequest {
        action: action.to_owned(),
        resource: resource.to_owned(),
    }
}

/// Parses the manifest and CLI syntax `ACTION[:RESOURCE]` (only the first `:` separates;
/// an omitted resource means `**`). Checking the patterns is left to the host, which refuses a
/// malformed one with `invalid`.
pub fn parse_cap(text: &str) -> CapabilityRequest {
    match text.split_once(':') {
        Some((action, resource)) => cap(action, resource),
        None => cap(text, "**"),
    }
}

/// A runtime error as JSON: `{"kind": "denied", "message": "..."}`. For `limit-exceeded` the
/// message is the limit's name ([`limit_name`]); for `needs-approval` the approval id.
pub fn error_json(err: &Error) -> Value {
    let (kind, message): (&str, String) = match err {
        Error::Denied(m) => ("denied", m.clone()),
        Error::NeedsApproval(id) => ("needs-approval", id.clone()),
        Error::Invalid(m) => ("invalid", m.clone()),
        Error::NotFound => ("not-found", String::new()),
        Error::LimitExceeded(k) => ("limit-exceeded", limit_name(*k).to_owned()),
        Error::Io(m) => ("io", m.clone()),
    };
    json!({ "kind": kind, "message": message })
}

/// A runtime error as the JSON text of [`error_json`], e.g. for an `err` string as it is.
pub fn error_string(err: &Error) -> String {
    error_json(err).to_string()
}

/// A tool error as JSON, like [`error_json`]: `invalid-input` and `failed` keep their message,
/// a `runtime` error is the wrapped [`Error`] as is.
pub fn tool_error_json(err: &ToolError) -> Value {
    match err {
        ToolError::InvalidInput(m) => json!({ "kind": "invalid-input", "message": m }),
        ToolError::Failed(m) => json!({ "kind": "failed", "message": m }),
        ToolError::Runtime(e) => error_json(e),
    }
}

/// The WIT name of a limit, e.g. `tool-calls`.
pub fn limit_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::Fuel => "fuel",
        LimitKind::Time => "time",
        LimitKind::Memory => "memory",
        LimitKind::Output => "output",
        LimitKind::Children => "children",
        LimitKind::Objects => "objects",
        LimitKind::Storage => "storage",
        LimitKind::ToolCalls => "tool-calls",
        LimitKind::BytesWritten => "bytes-written",
    }
}

/// How a child ended, as JSON: `{"state": "exited", "output": <its JSON output>}` (the output
/// as a string when it is not JSON), `{"state": "failed", "reason": "..."}` or
/// `{"state": "killed"}`.
pub fn exit_status_json(status: &ExitStatus) -> Value {
    match status {
        ExitStatus::Exited(out) => {
            let output =
                serde_json::from_str::<Value>(out).unwrap_or_else(|_| Value::String(out.clone()));
            json!({ "state": "exited", "output": output })
        }
        ExitStatus::Failed(reason) => json!({ "state": "failed", "reason": reason }),
        ExitStatus::Killed => json!({ "state": "killed" }),
    }
}

/// Lossy UTF-8 decoding of file contents.
pub fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
