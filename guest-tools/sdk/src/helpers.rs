//! Small helpers shared by tools: input parsing, output encoding, tool descriptions.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{CapabilityRequest, Error, LimitKind, ToolError, ToolInfo};

/// Parses the JSON `input` of `invoke`; a mismatch becomes [`ToolError::InvalidInput`].
pub fn parse_input<T: DeserializeOwned>(input: &str) -> Result<T, ToolError> {
    serde_json::from_str(input).map_err(|e| ToolError::InvalidInput(format!("{e}")))
}

/// Encodes a result as the JSON document `invoke` returns.
pub fn output<T: Serialize>(value: &T) -> Result<String, ToolError> {
    serde_json::to_string(value).map_err(|e| ToolError::Failed(format!("encoding output: {e}")))
}

/// A capability the tool needs, for [`ToolInfo::capabilities`].
pub fn cap(action: &str, resource: &str) -> CapabilityRequest {
    CapabilityRequest {
        action: action.to_owned(),
        resource: resource.to_owned(),
    }
}

/// Builds a [`ToolInfo`] from a name, a description, a JSON Schema and needed capabilities.
pub fn info(
    name: &str,
    description: &str,
    input_schema: serde_json::Value,
    capabilities: &[CapabilityRequest],
) -> ToolInfo {
    ToolInfo {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema: input_schema.to_string(),
        capabilities: capabilities.to_vec(),
    }
}

/// A runtime error as JSON (`{"kind": "denied", "message": "..."}`), for tools that report
/// errors inside their output instead of failing.
pub fn error_json(err: &Error) -> serde_json::Value {
    let (kind, message): (&str, String) = match err {
        Error::Denied(m) => ("denied", m.clone()),
        Error::NeedsApproval(id) => ("needs-approval", id.clone()),
        Error::Invalid(m) => ("invalid", m.clone()),
        Error::NotFound => ("not-found", String::new()),
        Error::LimitExceeded(k) => ("limit-exceeded", limit_name(*k).to_owned()),
        Error::Io(m) => ("io", m.clone()),
    };
    serde_json::json!({ "kind": kind, "message": message })
}

fn limit_name(kind: LimitKind) -> &'static str {
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

/// Lossy UTF-8 decoding of file contents.
pub fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
