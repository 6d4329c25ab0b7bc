//! Per-process limits on object memory, and the accounting that enforces them.

use serde::{Deserialize, Serialize};

use crate::error::{LimitKind, MemoryError, Result};
use crate::object::Usage;

/// How much object memory a process may use in one namespace.
///
/// Limits belong to the process, not to the store: they are passed with every mutation.
/// Sizes are measured with [`crate::object_size`]. When deserialized, missing fields take their
/// defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryLimits {
    /// Largest single object, in bytes. Default [`MemoryLimits::DEFAULT_MAX_OBJECT_BYTES`].
    pub max_object_bytes: u64,
    /// Most objects in the namespace. Default [`MemoryLimits::DEFAULT_MAX_OBJECTS`].
    pub max_objects: u64,
    /// Largest total size of the namespace's objects, in bytes.
    /// Default [`MemoryLimits::DEFAULT_MAX_NAMESPACE_BYTES`].
    pub max_namespace_bytes: u64,
}

impl MemoryLimits {
    /// Default largest object: 64 KiB.
    pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 64 * 1024;
    /// Default most objects per namespace: 10 000.
    pub const DEFAULT_MAX_OBJECTS: u64 = 10_000;
    /// Default largest namespace total: 16 MiB.
    pub const DEFAULT_MAX_NAMESPACE_BYTES: u64 = 16 * 1024 * 1024;
}

impl Default for MemoryLimits {
    fn default() -> Self {
        MemoryLimits {
            max_object_bytes: Self::DEFAULT_MAX_OBJECT_BYTES,
            max_objects: Self::DEFAULT_MAX_OBJECTS,
            max_namespace_bytes: Self::DEFAULT_MAX_NAMESPACE_BYTES,
        }
    }
}

/// Refuses an object of `size` bytes larger than the per-object limit.
pub(crate) fn check_object_size(size: u64, limits: &MemoryLimits) -> Result<()> {
    if size > limits.max_object_bytes {
        return Err(MemoryError::TooLarge {
            size,
            max: limits.max_object_bytes,
        });
    }
    Ok(())
}

/// Computes the namespace usage after writing an object of `new_size` bytes over an existing
/// object of `old_size` bytes (`None`: the object is created), refusing the write if it would
/// exceed a limit.
///
/// Only growth is refused: a write that does not add an object or bytes is allowed even when
/// the namespace is already over a (since lowered) limit, so that callers can always shrink.
pub(crate) fn usage_after_write(
    current: Usage,
    old_size: Option<u64>,
    new_size: u64,
    limits: &MemoryLimits,
) -> Result<Usage> {
    let objects = match old_size {
        Some(_) => current.objects,
        None => {
            let objects = current.objects.saturating_add(1);
            if objects > limits.max_objects {
                return Err(MemoryError::NamespaceFull {
                    limit: LimitKind::Objects,
                    requested: objects,
                    max: limits.max_objects,
                });
            }
            objects
        }
    };
    let old_size = old_size.unwrap_or(0);
    let bytes = current
        .bytes
        .saturating_sub(old_size)
        .saturating_add(new_size);
    if new_size > old_size && bytes > limits.max_namespace_bytes {
        return Err(MemoryError::NamespaceFull {
            limit: LimitKind::Bytes,
            requested: bytes,
            max: limits.max_namespace_bytes,
        });
    }
    Ok(Usage { objects, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: MemoryLimits = MemoryLimits {
        max_object_bytes: 10,
        max_objects: 2,
        max_namespace_bytes: 20,
    };

    fn usage(objects: u64, bytes: u64) -> Usage {
        Usage { objects, bytes }
    }

    #[test]
    fn object_size_limit_is_inclusive() {
        assert!(check_object_size(10, &LIMITS).is_ok());
        assert_eq!(
            check_object_size(11, &LIMITS),
            Err(MemoryError::TooLarge { size: 11, max: 10 })
        );
    }

    #[test]
    fn creating_counts_objects_and_bytes() {
        assert_eq!(
            usage_after_write(usage(1, 10), None, 10, &LIMITS),
            Ok(usage(2, 20))
        );
        assert!(matches!(
            usage_after_write(usage(2, 2), None, 1, &LIMITS),
            Err(MemoryError::NamespaceFull {
                limit: LimitKind::Objects,
                requested: 3,
                max: 2
            })
        ));
        assert!(matches!(
            usage_after_write(usage(1, 15), None, 6, &LIMITS),
            Err(MemoryError::NamespaceFull {
                limit: LimitKind::Bytes,
                requested: 21,
                max: 20
            })
        ));
    }

    #[test]
    fn replacing_counts_the_difference_and_may_always_shrink() {
        assert_eq!(
            usage_after_write(usage(2, 20), Some(10), 4, &LIMITS),
            Ok(usage(2, 14))
        );
        assert_eq!(
            usage_after_write(usage(2, 20), Some(5), 5, &LIMITS),
            Ok(usage(2, 20))
        );
        assert_eq!(
            usage_after_write(usage(5, 90), Some(9), 3, &LIMITS),
            Ok(usage(5, 84))
        );
        assert!(usage_after_write(usage(2, 20), Some(5), 6, &LIMITS).is_err());
    }

    #[test]
    fn defaults() {
        let limits = MemoryLimits::default();
        assert_eq!(limits.max_object_bytes, 65_536);
        assert_eq!(limits.max_objects, 10_000);
        assert_eq!(limits.max_namespace_bytes, 16_777_216);
    }
}
