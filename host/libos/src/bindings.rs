//! Host bindings for the `libos:runtime` WIT package (the one `bindgen!` of this crate).
//!
//! Imports are `trappable`: a primitive returns its typed `error` as a value; only a
//! host-internal failure becomes a trap. Those that wait are async (a shell command, and every
//! effect, which waits for its audit record to be stored), the rest synchronous. Exports are called asynchronously so that
//! epoch-based time slices can yield to the scheduler.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "libos:runtime/tool",
    imports: {
        "libos:runtime/shell.run": async | trappable,
        "libos:runtime/fs.write": async | trappable,
        "libos:runtime/fs.delete": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});

pub use self::libos::runtime::types::{Error as RuntimeError, LimitKind};
