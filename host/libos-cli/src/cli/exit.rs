//! Exit codes: each kind of failure has its own, so scripts can tell them apart.

use libos::{CallFailure, HostError, LoadError};

/// Exit codes of `libos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Anything not listed below (bad flag values, unreadable policy, state directory).
    Error = 1,
    /// A primitive was denied by capabilities or policy.
    Denied = 3,
    /// A primitive needs a human approval.
    NeedsApproval = 4,
    /// The component imports something no capability grants.
    Refused = 5,
    /// A fuel, time, memory or output limit was exceeded.
    LimitExceeded = 6,
    /// The tool failed: invalid input, its own error, or a trap.
    ToolError = 7,
    /// The file is not a usable tool component (malformed, a core module, too large, …).
    BadComponent = 8,
    /// The audit log failed verification.
    AuditBroken = 9,
    /// The named image (or other object) does not exist.
    NotFound = 10,
    /// The process ended as failed (its `run` returned an error, trapped or hit a limit).
    ProcessFailed = 11,
    /// The process was killed.
    ProcessKilled = 12,
    /// The audit log could not be read here (permissions, I/O): no verdict on its integrity.
    AuditUnreadable = 13,
    /// `libos conform` found the component does not conform (a check failed).
    NotConformant = 14,
}

/// Help text listing the exit codes.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success
  1  error (bad arguments, unreadable policy, state directory)
  2  usage error
  3  denied by capabilities or policy
  4  needs human approval
  5  component refused (imports something no capability grants)
  6  limit exceeded (fuel, time, memory, output)
  7  tool error (invalid input, tool failure, trap)
  8  not a usable component (malformed, core module, too large, not a tool)
  9  audit log failed verification
 10  not found (no such image or process)
 11  process failed (its run returned an error, trapped or hit a limit)
 12  process killed
 13  audit log unreadable (permissions, I/O): not checked
 14  not conformant (`libos conform`: a check failed)";

/// A failed command: one line of message and its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::new(Code::Error, format!("{e:#}"))
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure::new(Code::Error, e.to_string())
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Self {
        let code = match e {
            LoadError::Refused { .. } => Code::Refused,
            LoadError::Read { .. } | LoadError::Cache(_) | LoadError::Altered { .. } => Code::Error,
            _ => Code::BadComponent,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<CallFailure> for Failure {
    fn from(e: CallFailure) -> Self {
        let code = match e {
            CallFailure::Denied(_) => Code::Denied,
            CallFailure::NeedsApproval(_) => Code::NeedsApproval,
            CallFailure::LimitExceeded(_) => Code::LimitExceeded,
            CallFailure::InvalidInput(_) | CallFailure::Failed(_) | CallFailure::Trap(_) => {
                Code::ToolError
            }
            CallFailure::Host(_) => Code::Error,
        };
        Failure::new(code, e.to_string())
    }
}
