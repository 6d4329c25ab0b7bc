//! Write an Agent libOS agent in a few lines.
//!
//! An agent is a WebAssembly component exporting `run` from the `libos:runtime/agent` world.
//! It has no authority of its own: everything it does goes through the imported primitives
//! ([`fs`], [`clock`], [`log`], [`process`], [`tools`], [`memory`], [`events`]), which the
//! host checks against the process's capabilities and its image's policy. A denial arrives as
//! a typed [`Error`], never as a trap.
//!
//! `run` returns `ok` with a JSON document, or `err` with a string. Agents built on this SDK
//! make that string a JSON object `{"kind": ..., "message": ...}` (a [`Failure`]), so a parent
//! or a test can tell a denial from a missing file without parsing prose. [`run_json`] does the
//! decoding of the input, the encoding of the output and the error conversion:
//!
//! ```ignore
//! use libos_agent_sdk::{Agent, Context, Failure, fs, run_json, text};
//!
//! #[derive(serde::Deserialize)]
//! struct Input { path: String }
//!
//! struct Cat;
//!
//! impl Agent for Cat {
//!     fn run(input: String) -> Result<String, String> {
//!         run_json(&input, |input: Input| -> Result<_, Failure> {
//!             let bytes = fs::read(&input.path).during("fs.read")?;
//!             Ok(libos_agent_sdk::json!({ "text": text(bytes) }))
//!         })
//!     }
//! }
//!
//! libos_agent_sdk::export_agent!(Cat);
//! ```

// The allocator of `wasm32-unknown-unknown` guests (a heap that keeps only the pages it uses).
use libos_guest_heap as _;

mod failure;
mod helpers;

/// Generated bindings to the `libos:runtime/agent` world.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "libos:runtime/agent",
        pub_export_macro: true,
        export_macro_name: "export_agent",
        default_bindings_module: "libos_agent_sdk::bindings",
    });
}

pub use bindings::Guest as Agent;
pub use bindings::libos::runtime::process::{ExitStatus, Pid};
pub use bindings::libos::runtime::types::{
    CapabilityRequest, Datetime, Error, LimitKind, ToolError, ToolInfo,
};
pub use bindings::libos::runtime::{
    clock, events, fs, human, log, memory, process, shell, time, tools,
};
pub use failure::{Context, Failure};
pub use helpers::{
    cap, error_json, error_string, exit_status_json, limit_name, output, parse_cap, parse_input,
    run_json, text, tool_error_json,
};
pub use serde_json::{Value, json};

/// Exports a type implementing [`Agent`] as the component's `run`.
#[macro_export]
macro_rules! export_agent {
    ($ty:ident) => {
        $crate::bindings::export_agent!($ty);
    };
}
