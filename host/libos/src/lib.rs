//! Agent libOS host library.
//!
//! Loads WebAssembly tool components, refuses any import it has not granted, and serves the
//! `libos:runtime` primitives. Every primitive call goes through one authority check
//! ([`libos_authority::Authority::check`]: capabilities, then Cedar policy) which also appends
//! a hash-chained audit record ([`libos_audit`]). Every call runs under fuel, wall-clock,
//! memory and output limits ([`limits::Limits`]).
//!
//! The entry point is [`host::ToolHost`]: [`host::ToolHost::load`] validates and prepares a
//! component, [`host::ToolHost::call`] runs one `invoke` under a caller's capabilities.

pub mod approval;
pub mod bindings;
pub mod call;
pub mod error;
pub mod host;
pub mod limits;
pub mod meter;
pub mod policy;
pub mod primitives;
pub mod providers;
pub mod reserved;
pub mod state;
pub mod wasm;
mod workdirs;

pub use error::{CallFailure, HostError, LoadError};
pub use host::{CallOptions, CallReport, LoadedTool, ToolHost};
pub use limits::Limits;
