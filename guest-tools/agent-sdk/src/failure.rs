//! [`Failure`]: the typed error an agent returns as its `err` string.

use std::fmt;

use crate::helpers::{error_json, tool_error_json};
use crate::{Error, ToolError, Value, json};

/// Why an agent failed: a machine-readable `kind` and a human-readable `message`.
///
/// Its string form ([`Failure::to_json`], `String::from`) is the JSON object
/// `{"kind": "<kind>", "message": "<message>"}`, the `err` value of `run`.
///
/// Kinds used by the SDK: those of [`Error`] (`denied`, `needs-approval`, `invalid`,
/// `not-found`, `limit-exceeded`, `io`), those of [`ToolError`] (`invalid-input`, `failed`;
/// a tool's `runtime` error keeps the kind of the wrapped [`Error`]), `invalid-input` for an
/// agent input that does not decode, and `internal` for an output that does not encode.
/// Agents may add their own kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Machine-readable category, e.g. `not-found`.
    pub kind: String,
    /// What was being done and what went wrong.
    pub message: String,
}

impl Failure {
    /// A failure of kind `kind`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// A failed primitive call: the error's kind, and a message starting with `context`
    /// (what was being done, e.g. ``fs.read `pytest.log` ``) followed by the error's detail.
    pub fn runtime(context: &str, err: &Error) -> Failure {
        Failure::from_json(context, &error_json(err))
    }

    /// A failed tool call, like [`Failure::runtime`].
    pub fn tool(context: &str, err: &ToolError) -> Failure {
        Failure::from_json(context, &tool_error_json(err))
    }

    fn from_json(context: &str, value: &Value) -> Failure {
        let kind = value["kind"].as_str().unwrap_or("unknown");
        let detail = value["message"].as_str().unwrap_or("");
        let message = if detail.is_empty() {
            format!("{context}: {kind}")
        } else {
            format!("{context}: {kind}: {detail}")
        };
        Failure::new(kind, message)
    }

    /// The failure as a JSON value `{"kind": ..., "message": ...}`.
    pub fn to_value(&self) -> Value {
        json!({ "kind": self.kind, "message": self.message })
    }

    /// The failure as the JSON text `run` returns in `err`.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl From<Failure> for String {
    fn from(failure: Failure) -> String {
        failure.to_json()
    }
}

/// Adds what was being done to a primitive's or a tool's error: `fs::read(p).during("...")?`.
pub trait Context<T> {
    /// Turns the error into a [`Failure`] whose message starts with `context`.
    fn during(self, context: &str) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, Error> {
    fn during(self, context: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure::runtime(context, &e))
    }
}

impl<T> Context<T> for Result<T, ToolError> {
    fn during(self, context: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure::tool(context, &e))
    }
}
