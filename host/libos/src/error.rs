//! Typed errors of the host: setting up, loading a component, and the outcome of a call.

use std::path::PathBuf;

use serde::Serialize;

/// Failure to set up the host itself (engine, state directory, audit log, policy).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The WebAssembly engine could not be configured.
    #[error("configuring the WebAssembly engine: {0}")]
    Engine(String),
    /// The state directory could not be created or used.
    #[error("state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The audit log could not be opened or flushed.
    #[error("audit log: {0}")]
    Audit(#[from] libos_audit::AuditError),
    /// The compiled-component cache's records could not be opened.
    #[error("{0}")]
    Cache(String),
    /// The policy file could not be read.
    #[error("policy file {path}: {source}")]
    PolicyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The policy or a capability is malformed.
    #[error("{0}")]
    Authority(#[from] libos_authority::AuthorityError),
    /// The working directory could not be opened.
    #[error("working directory {path}: {source}")]
    Workdir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a component could not be loaded. Nothing of it was instantiated.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than the host accepts.
    #[error("{path}: {size} bytes is larger than the {max}-byte limit for components")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    /// The path names no regular file (a device, a FIFO, a directory, a socket).
    #[error("{path}: not a regular file")]
    NotAFile { path: PathBuf },
    /// The bytes are not WebAssembly at all, or not a valid component.
    #[error("{path}: not a valid WebAssembly component: {message}")]
    Malformed { path: PathBuf, message: String },
    /// A core module was given where a component is needed.
    #[error(
        "{path}: this is a core WebAssembly module, not a component (wrap it with `wasm-tools component new` or the wit-component crate)"
    )]
    CoreModule { path: PathBuf },
    /// The component imports something no capability grants.
    #[error("refused: imports {import}, which {why}")]
    Refused { import: String, why: String },
    /// The component does not export the `libos:runtime/tool` world (`describe`, `invoke`).
    #[error("{path}: not a libos tool: {message}")]
    NotATool { path: PathBuf, message: String },
    /// A tool (it exports `describe` and `invoke`) loaded as a plain component: a tool is
    /// called as one, so its input is checked against its schema and it runs as itself.
    #[error("{path}: is a libos tool; call it as one (without --function)")]
    IsATool { path: PathBuf },
    /// A plain component has no function of that name (or the bare name is ambiguous).
    #[error("{path}: no function {name:?} (its functions: {})", known.join(", "))]
    NoSuchFunction {
        path: PathBuf,
        name: String,
        known: Vec<String>,
    },
    /// `describe()` failed or returned an invalid description.
    #[error("{path}: describe() failed: {message}")]
    Describe { path: PathBuf, message: String },
    /// The compiled-component cache could not be used.
    #[error("component cache: {0}")]
    Cache(String),
    /// A stored blob no longer hashes to the digest it is stored under.
    #[error(
        "{path}: stored as sha256:{expected} but its content hashes to sha256:{actual}; refusing to run an altered blob (build the image again)"
    )]
    Altered {
        path: PathBuf,
        expected: String,
        actual: String,
    },
}

/// Which limit a call exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitKind {
    Fuel,
    Time,
    Memory,
    Output,
    Children,
    Objects,
    Storage,
    ToolCalls,
    BytesWritten,
}

impl LimitKind {
    /// The lowercase name used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
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
}

impl From<LimitKind> for crate::bindings::LimitKind {
    /// The WIT `limit-kind` a guest receives for this limit.
    fn from(kind: LimitKind) -> Self {
        use crate::bindings::LimitKind as Wit;
        match kind {
            LimitKind::Fuel => Wit::Fuel,
            LimitKind::Time => Wit::Time,
            LimitKind::Memory => Wit::Memory,
            LimitKind::Output => Wit::Output,
            LimitKind::Children => Wit::Children,
            LimitKind::Objects => Wit::Objects,
            LimitKind::Storage => Wit::Storage,
            LimitKind::ToolCalls => Wit::ToolCalls,
            LimitKind::BytesWritten => Wit::BytesWritten,
        }
    }
}

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum CallFailure {
    /// A primitive was refused by capabilities or policy.
    #[error("denied: {0}")]
    Denied(String),
    /// A primitive needs a human approval first; the payload is the request id.
    #[error("needs approval: request {0}")]
    NeedsApproval(String),
    /// A limit was exceeded.
    #[error("limit exceeded: {}", .0.as_str())]
    LimitExceeded(LimitKind),
    /// The tool rejected its input.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The tool failed, or a primitive failed with `invalid`, `not-found` or `io`.
    #[error("tool failed: {0}")]
    Failed(String),
    /// The component trapped (panicked, hit `unreachable`, overflowed its stack, …).
    #[error("tool trapped: {0}")]
    Trap(String),
    /// The host could not set the call up (working directory, …).
    #[error("host error: {0}")]
    Host(String),
}
