//! The AgentProcess runtime.
//!
//! A [`Kernel`] starts processes from stored AgentImages: each is a wasmtime `Store` of a
//! [`ProcessCtx`] driven by its own tokio task, with epoch time slices and fuel slices so a
//! busy process yields to the others, and every state change recorded in the process table
//! (`libos-proctable`) of the shared state directory. The fs, clock and log primitives are the
//! tool host's own; `process`, `tools` and `memory` (over `libos-memory`) are served here, decided through the process's
//! authority session like every primitive.

pub mod bindings;
mod budget;
mod bus;
mod checkpoint;
mod control;
mod ctx;
mod error;
mod images;
mod journal;
mod kernel;
mod log_quota;
mod pause;
mod primitives;
mod rate;
mod recent;
pub mod recovery;
mod resume;
mod run;
mod status;
mod subtree;
pub mod surface;
mod upgrade;
mod waiting;

pub use checkpoint::{CheckpointMeta, decode_memory, encode_memory, replace_memory};
pub use control::TABLE_POLL;
pub use ctx::ProcessCtx;
pub use error::ProcessError;
pub use images::policy_of;
pub use journal::intent_preview;
pub use kernel::{Kernel, PROCESS_AMBIENT, Start};
pub use resume::Adopted;
pub use status::ExitStatus;
pub use subtree::MAX_DEPTH;
pub use waiting::HUMAN_POLL;
