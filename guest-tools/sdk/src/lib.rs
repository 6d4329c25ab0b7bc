//! Write an Agent libOS tool in a few lines.
//!
//! A tool is a WebAssembly component exporting `describe` and `invoke` from the
//! `libos:runtime/tool` world. It has no authority of its own: everything it does goes through
//! the imported primitives ([`fs`], [`clock`], [`log`]), which the host checks against the
//! caller's capabilities and the policy. A denial arrives as a typed [`Error`], which `?`
//! turns into [`ToolError::Runtime`] so the caller sees it unchanged.
//!
//! ```ignore
//! use libos_sdk::{Tool, ToolError, ToolInfo};
//!
//! struct Echo;
//!
//! impl Tool for Echo {
//!     fn describe() -> ToolInfo {
//!         libos_sdk::info("echo", "Returns its input.", libos_sdk::json!({"type": "object"}), &[])
//!     }
//!     fn invoke(input: String) -> Result<String, ToolError> {
//!         Ok(input)
//!     }
//! }
//!
//! libos_sdk::export_tool!(Echo);
//! ```

extern crate alloc;

// The allocator of `wasm32-unknown-unknown` guests (a heap that keeps only the pages it uses).
use libos_guest_heap as _;

mod helpers;

/// Generated bindings to the `libos:runtime/tool` world.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "libos:runtime/tool",
        pub_export_macro: true,
        export_macro_name: "export_tool",
        default_bindings_module: "libos_sdk::bindings",
    });
}

pub use bindings::Guest as Tool;
pub use bindings::libos::runtime::types::{
    CapabilityRequest, Datetime, Error, LimitKind, ToolError, ToolInfo,
};
pub use bindings::libos::runtime::{clock, fs, log};
pub use helpers::{cap, error_json, info, output, parse_input, text};
pub use serde_json::{Value, json};

/// Exports a type implementing [`Tool`] as the component's `describe` and `invoke`.
#[macro_export]
macro_rules! export_tool {
    ($ty:ident) => {
        $crate::bindings::export_tool!($ty);
    };
}

impl From<Error> for ToolError {
    fn from(err: Error) -> Self {
        ToolError::Runtime(err)
    }
}
