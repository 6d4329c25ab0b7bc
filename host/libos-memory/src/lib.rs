//! Typed object memory for Agent libOS processes.
//!
//! An [`ObjectStore`] holds JSON objects addressed by `(namespace, kind, key)`, each with a
//! version that starts at 1 and grows by one on every replacement. A namespace is chosen by the
//! host (for example `pid:7`, or the name of a shared namespace); the store performs no
//! authorization — the caller checks capabilities first — but it validates every name and value
//! and enforces the per-process [`MemoryLimits`] passed with each mutation.
//!
//! Objects live in SQLite tables inside the runtime's shared database file (see [`ObjectStore`]
//! for the schema). Every mutation runs in one `BEGIN IMMEDIATE` transaction, so several
//! handles or processes on the same file never break limits or versions.

mod error;
mod limits;
pub mod names;
mod object;
mod read;
mod schema;
mod snapshot;
mod sql;
mod store;
mod value;
mod write;

pub use error::{LimitKind, MemoryError, Result};
pub use limits::MemoryLimits;
pub use object::{Object, ObjectMeta, Usage, object_size};
pub use snapshot::{MAX_SNAPSHOT_OBJECTS, SnapshotObject};
pub use store::{MAX_LIST_LIMIT, ObjectStore};
pub use value::validate_json;
