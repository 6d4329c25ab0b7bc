//! Host bindings for the `libos:runtime` WIT package (the one `bindgen!` of this crate).
//!
//! Imports are `trappable`: a primitive returns its typed `error` as a value; only a
//! host-internal failure becomes a trap. All are async: a shell command and every effect wait
//! (for the command, for their audit record to be stored), and an agent's calls wait for the
//! journal when it falls behind. One that does not wait completes at its first poll. Exports
//! are called asynchronously so that epoch-based time slices can yield to the scheduler.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "libos:runtime/tool",
    imports: {
        default: async | trappable,
    },
    exports: { default: async },
    // Values cross the journal (`libos-process`): arguments are digested, results stored.
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub use self::libos::runtime::types::{Error as RuntimeError, LimitKind};
