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

/// Generated bindings to the `libos:runtime/restorable-agent` world: its export only (the
/// imports are [`bindings`]'). Used by [`export_restorable_agent!`].
#[doc(hidden)]
pub mod restorable_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "libos:runtime/restorable-agent",
        pub_export_macro: true,
        export_macro_name: "export_restorable",
        default_bindings_module: "libos_agent_sdk::restorable_bindings",
        with: {
            "libos:runtime/types@0.1.0": crate::bindings::libos::runtime::types,
            "libos:runtime/fs@0.1.0": crate::bindings::libos::runtime::fs,
            "libos:runtime/clock@0.1.0": crate::bindings::libos::runtime::clock,
            "libos:runtime/log@0.1.0": crate::bindings::libos::runtime::log,
            "libos:runtime/shell@0.1.0": crate::bindings::libos::runtime::shell,
            "libos:runtime/process@0.1.0": crate::bindings::libos::runtime::process,
            "libos:runtime/tools@0.1.0": crate::bindings::libos::runtime::tools,
            "libos:runtime/memory@0.1.0": crate::bindings::libos::runtime::memory,
            "libos:runtime/events@0.1.0": crate::bindings::libos::runtime::events,
            "libos:runtime/human@0.1.0": crate::bindings::libos::runtime::human,
            "libos:runtime/time@0.1.0": crate::bindings::libos::runtime::time,
        },
    });
}

pub use bindings::Guest as Agent;
/// What an agent that keeps snapshots implements besides [`Agent`]: `restore` rebuilds its
/// state from the bytes it last gave `process::snapshot` (see [`export_restorable_agent!`]).
pub use restorable_bindings::exports::libos::runtime::restorable::Guest as Restore;
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

/// Exports a type implementing [`Agent`] and [`Restore`] as the component's `run` and
/// `libos:runtime/restorable.restore`: the agent may call `process::snapshot`, and a host
/// that resumes it calls `restore` with the last snapshot before `run`.
#[macro_export]
macro_rules! export_restorable_agent {
    ($ty:ident) => {
        struct __LibosRestorable;
        impl $crate::restorable_bindings::Guest for __LibosRestorable {
            fn run(input: String) -> Result<String, String> {
                <$ty as $crate::Agent>::run(input)
            }
        }
        impl $crate::Restore for __LibosRestorable {
            fn restore(state: Vec<u8>) -> Result<(), String> {
                <$ty as $crate::Restore>::restore(state)
            }
        }
        $crate::restorable_bindings::export_restorable!(__LibosRestorable);
    };
}
