//! Agent libOS host library.
//!
//! Loads WebAssembly tool components, refuses any import it has not granted, and serves the
//! `libos:runtime` primitives and the WASI interfaces it links. Every call that reaches
//! anything outside the component decides through its call's [`call::CallCtx`] (a
//! [`libos_authority::Session`] on the shared authority: capabilities, then Cedar policy, then
//! the human queue when the policy asks), which appends a hash-chained audit record
//! ([`libos_audit`]); `libos_process::surface` lists how each imported function is governed. Every call runs under fuel, wall-clock,
//! memory and output limits ([`limits::Limits`]).
//!
//! The entry point is [`host::ToolHost`]: [`host::ToolHost::load`] validates and prepares a
//! component, [`host::ToolHost::call`] runs one `invoke` under a caller's capabilities.

pub mod approval;
pub mod bindings;
pub mod call;
pub mod conform;
pub mod error;
pub mod host;
pub mod limits;
pub mod meter;
pub mod permit;
pub mod policy;
pub mod primitives;
pub mod providers;
pub mod reserved;
pub mod state;
pub mod wasm;
pub mod wit_json;
mod workdirs;

pub use error::{CallFailure, HostError, LoadError};
pub use host::{CallOptions, CallReport, LoadedTool, ToolHost};
pub use limits::Limits;
