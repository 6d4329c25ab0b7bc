//! Host bindings for the `agent` world (the one `bindgen!` of this crate).
//!
//! The interfaces the agent world shares with the tool world (`types`, `fs`, `clock`, `log`)
//! are the tool host's own bindings, so agents and tools are served by the same primitive
//! implementations. Functions that wait (for a child, a tool call, an event or a message, for
//! an image's agent to compile, or for the audit record of an effect to be stored) are async,
//! so a waiting process parks its task instead of holding a thread.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "libos:runtime/agent",
    imports: {
        default: async | trappable,
    },
    exports: { default: async },
    // Values cross the journal: arguments are digested, results stored.
    additional_derives: [serde::Serialize, serde::Deserialize],
    with: {
        "libos:runtime/types": ::libos::bindings::libos::runtime::types,
        "libos:runtime/fs": ::libos::bindings::libos::runtime::fs,
        "libos:runtime/clock": ::libos::bindings::libos::runtime::clock,
        "libos:runtime/log": ::libos::bindings::libos::runtime::log,
        "libos:runtime/shell": ::libos::bindings::libos::runtime::shell,
    },
});

pub use ::libos::bindings::RuntimeError;
