//! The errors the object store reports.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Shorthand for results of object-store operations.
pub type Result<T> = std::result::Result<T, MemoryError>;

/// Which namespace limit a refused mutation would have exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// The number of objects in the namespace ([`crate::MemoryLimits::max_objects`]).
    Objects,
    /// The total size of the namespace's objects
    /// ([`crate::MemoryLimits::max_namespace_bytes`]).
    Bytes,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Objects => "object count",
            LimitKind::Bytes => "byte total",
        })
    }
}

/// Why an object-store operation failed.
///
/// Every variant except [`MemoryError::Store`] means the request was refused before anything
/// was written: the store is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// A namespace, kind, key or value was malformed; the message names which and why.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The object's size (see [`crate::object_size`]) exceeds
    /// [`crate::MemoryLimits::max_object_bytes`].
    #[error("object is {size} bytes, the limit is {max}")]
    TooLarge {
        /// The object's size in bytes.
        size: u64,
        /// The limit it exceeds.
        max: u64,
    },
    /// The mutation would take the namespace beyond one of its limits.
    #[error("namespace full: the {limit} would become {requested}, the limit is {max}")]
    NamespaceFull {
        /// Which limit.
        limit: LimitKind,
        /// The value the limited quantity would have had after the mutation.
        requested: u64,
        /// The limit.
        max: u64,
    },
    /// The object's current version is not the one the caller expected.
    #[error("version mismatch: expected {expected}, current {}", describe_current(.current))]
    VersionMismatch {
        /// The version the caller expected (0 meaning "must not exist").
        expected: u64,
        /// The object's current version, or `None` if it does not exist.
        current: Option<u64>,
    },
    /// The database failed (locked past the busy timeout, disk full, corrupt data, ...).
    #[error("object store error: {0}")]
    Store(String),
}

fn describe_current(current: &Option<u64>) -> String {
    match current {
        Some(version) => version.to_string(),
        None => "absent".to_owned(),
    }
}

impl From<rusqlite::Error> for MemoryError {
    fn from(err: rusqlite::Error) -> Self {
        MemoryError::Store(err.to_string())
    }
}

impl From<libos_db::OpenError> for MemoryError {
    fn from(err: libos_db::OpenError) -> Self {
        MemoryError::Store(err.to_string())
    }
}
