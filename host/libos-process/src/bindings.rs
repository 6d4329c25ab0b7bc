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
        "libos:runtime/process.spawn": async | trappable,
        "libos:runtime/process.kill": async | trappable,
        "libos:runtime/process.signal": async | trappable,
        "libos:runtime/process.send": async | trappable,
        "libos:runtime/events.emit": async | trappable,
        "libos:runtime/memory.put": async | trappable,
        "libos:runtime/memory.compare-and-swap": async | trappable,
        "libos:runtime/memory.delete": async | trappable,
        "libos:runtime/process.wait": async | trappable,
        "libos:runtime/process.recv": async | trappable,
        "libos:runtime/process.exec": async | trappable,
        "libos:runtime/tools.call": async | trappable,
        "libos:runtime/tools.register": async | trappable,
        "libos:runtime/events.wait": async | trappable,
        "libos:runtime/human.request-approval": async | trappable,
        "libos:runtime/human.ask": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "libos:runtime/types": ::libos::bindings::libos::runtime::types,
        "libos:runtime/fs": ::libos::bindings::libos::runtime::fs,
        "libos:runtime/clock": ::libos::bindings::libos::runtime::clock,
        "libos:runtime/log": ::libos::bindings::libos::runtime::log,
        "libos:runtime/shell": ::libos::bindings::libos::runtime::shell,
    },
});

pub use ::libos::bindings::RuntimeError;
