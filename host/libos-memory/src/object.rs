//! The records the store hands back.

use serde::{Deserialize, Serialize};

/// The size an object counts for against the limits: the byte length of its value (as stored,
/// i.e. as given) plus the byte length of its key. Namespace and kind are not counted.
pub fn object_size(key: &str, value: &str) -> u64 {
    // usize always fits in u64 on supported targets; saturate rather than assume.
    let total = key.len().saturating_add(value.len());
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// The object's kind.
    pub kind: String,
    /// The object's key.
    pub key: String,
    /// The version: 1 when created, one more after each replacement.
    pub version: u64,
    /// The JSON value exactly as it was written.
    pub value: String,
    /// When the object was last written, in nanoseconds since the Unix epoch.
    pub updated_ns: u64,
}

/// What [`crate::ObjectStore::list`] reports about an object, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// The object's version.
    pub version: u64,
    /// The object's size as defined by [`object_size`].
    pub size: u64,
    /// When the object was last written, in nanoseconds since the Unix epoch.
    pub updated_ns: u64,
}

/// How much of its limits a namespace uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// How many objects the namespace holds (all kinds together).
    pub objects: u64,
    /// The sum of [`object_size`] over those objects.
    pub bytes: u64,
}
