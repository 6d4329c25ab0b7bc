//! The WebAssembly layer: engine configuration, the epoch ticker, component loading and
//! import validation, the compiled-component cache, per-call limits and the WASI the host
//! serves (each use that reaches outside decided: `wasi_fs`, `net`).

pub mod cache;
pub mod capacity;
pub mod deadline;
pub mod engine;
pub mod limiter;
pub mod mediated;
pub mod metered;
pub mod net;
pub mod parking;
pub mod pipe;
pub mod ticker;
pub mod validate;
pub mod wasi;
pub mod wasi_fs;
