//! The agent world's own interfaces, implemented on [`crate::ProcessCtx`]: one module each.
//! Every function is decided through the process's session (`CallCtx::authorize`) and audited.

mod events;
mod memory;
mod process;
mod tools;

pub(crate) use events::EXIT_TOPIC;

use libos::bindings::RuntimeError;

/// The typed answer of a function this runtime does not serve yet: a value, never a trap.
pub(crate) fn not_yet(function: &str) -> RuntimeError {
    RuntimeError::Invalid(format!("{function} is not available in this runtime yet"))
}
