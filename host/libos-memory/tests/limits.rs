//! Per-object and per-namespace limits.

mod common;

use anyhow::Result;
use common::store;
use libos_memory::{LimitKind, MemoryError, MemoryLimits, ObjectStore, Usage, object_size};

const LIMITS: MemoryLimits = MemoryLimits {
    max_object_bytes: 100,
    max_objects: 3,
    max_namespace_bytes: 200,
};

/// A JSON string value whose object (with key `key`) has exactly `size` bytes.
fn value_of_size(key: &str, size: usize) -> String {
    let value = format!("\"{}\"", "x".repeat(size - key.len() - 2));
    assert_eq!(object_size(key, &value), size as u64);
    value
}

/// Everything observable about a namespace, to prove a refusal changed nothing.
fn snapshot(store: &ObjectStore, ns: &str) -> Result<(Usage, Vec<Option<libos_memory::Object>>)> {
    let keys = store.list(ns, "blob", None, 1000)?;
    let objects = keys
        .iter()
        .map(|m| store.get(ns, "blob", &m.key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((store.usage(ns)?, objects))
}

#[test]
fn object_too_large_is_refused() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "blob", "k", &value_of_size("k", 50), &LIMITS)?;
    let before = snapshot(&store, "pid:1")?;

    // Exactly at the limit is fine for a new key.
    assert_eq!(
        store.put("pid:1", "blob", "at", &value_of_size("at", 100), &LIMITS)?,
        1
    );
    let before_at = snapshot(&store, "pid:1")?;
    assert_ne!(before, before_at);

    let err = store
        .put("pid:1", "blob", "k", &value_of_size("k", 101), &LIMITS)
        .unwrap_err();
    assert_eq!(
        err,
        MemoryError::TooLarge {
            size: 101,
            max: 100
        }
    );
    let err = store
        .compare_and_swap(
            "pid:1",
            "blob",
            "new",
            0,
            &value_of_size("new", 101),
            &LIMITS,
        )
        .unwrap_err();
    assert!(matches!(
        err,
        MemoryError::TooLarge {
            size: 101,
            max: 100
        }
    ));
    // The key counts: a short value under a long key can be too large.
    let long_key = "k".repeat(99);
    assert!(matches!(
        store.put("pid:1", "blob", &long_key, "[]", &LIMITS),
        Err(MemoryError::TooLarge { size: 101, .. })
    ));

    assert_eq!(snapshot(&store, "pid:1")?, before_at);
    Ok(())
}

#[test]
fn too_many_objects_is_refused() -> Result<()> {
    let (_dir, store) = store();
    for key in ["a", "b", "c"] {
        store.put("pid:1", "blob", key, "1", &LIMITS)?;
    }
    let before = snapshot(&store, "pid:1")?;
    assert_eq!(before.0.objects, 3);

    let err = store.put("pid:1", "blob", "d", "1", &LIMITS).unwrap_err();
    assert_eq!(
        err,
        MemoryError::NamespaceFull {
            limit: LimitKind::Objects,
            requested: 4,
            max: 3
        }
    );
    // Other kinds count against the same namespace.
    assert!(matches!(
        store.compare_and_swap("pid:1", "other", "a", 0, "1", &LIMITS),
        Err(MemoryError::NamespaceFull {
            limit: LimitKind::Objects,
            ..
        })
    ));
    assert_eq!(snapshot(&store, "pid:1")?, before);
    assert!(store.get("pid:1", "other", "a")?.is_none());

    // Replacing an existing object is not a new object.
    assert_eq!(store.put("pid:1", "blob", "a", "2", &LIMITS)?, 2);
    // Another namespace has its own count.
    store.put("pid:2", "blob", "d", "1", &LIMITS)?;
    // Deleting frees a slot.
    store.delete("pid:1", "blob", "c", None)?;
    assert_eq!(store.put("pid:1", "blob", "d", "1", &LIMITS)?, 1);
    Ok(())
}

#[test]
fn too_many_bytes_is_refused() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "blob", "a", &value_of_size("a", 100), &LIMITS)?;
    store.put("pid:1", "blob", "b", &value_of_size("b", 90), &LIMITS)?;
    let before = snapshot(&store, "pid:1")?;
    assert_eq!(
        before.0,
        Usage {
            objects: 2,
            bytes: 190
        }
    );

    // Creating would make 201 bytes.
    let err = store
        .put("pid:1", "blob", "c", &value_of_size("c", 11), &LIMITS)
        .unwrap_err();
    assert_eq!(
        err,
        MemoryError::NamespaceFull {
            limit: LimitKind::Bytes,
            requested: 201,
            max: 200
        }
    );
    // Replacing with an object of the same size needs no room.
    let err = store
        .compare_and_swap("pid:1", "blob", "a", 1, &value_of_size("a", 100), &LIMITS)
        .map(|_| ());
    assert!(err.is_ok(), "same size replacement is allowed: {err:?}");
    let before = snapshot(&store, "pid:1")?;
    let err = store
        .put("pid:1", "blob", "b", &value_of_size("b", 101), &LIMITS)
        .unwrap_err();
    assert!(matches!(err, MemoryError::TooLarge { .. }));
    // Growing "b" from 90 to 96 bytes would make 196 bytes, beyond a 195-byte limit.
    let tight = MemoryLimits {
        max_namespace_bytes: 195,
        ..LIMITS
    };
    let err = store
        .put("pid:1", "blob", "b", &value_of_size("b", 96), &tight)
        .unwrap_err();
    assert_eq!(
        err,
        MemoryError::NamespaceFull {
            limit: LimitKind::Bytes,
            requested: 196,
            max: 195
        }
    );
    assert_eq!(snapshot(&store, "pid:1")?, before);

    // Exactly at the limit is allowed.
    assert_eq!(
        store.put("pid:1", "blob", "c", &value_of_size("c", 10), &LIMITS)?,
        1
    );
    assert_eq!(store.usage("pid:1")?.bytes, 200);
    Ok(())
}

#[test]
fn replacing_big_with_small_frees_bytes() -> Result<()> {
    let (_dir, store) = store();
    store.put("pid:1", "blob", "a", &value_of_size("a", 100), &LIMITS)?;
    store.put("pid:1", "blob", "b", &value_of_size("b", 100), &LIMITS)?;
    assert!(matches!(
        store.put("pid:1", "blob", "c", &value_of_size("c", 50), &LIMITS),
        Err(MemoryError::NamespaceFull {
            limit: LimitKind::Bytes,
            ..
        })
    ));

    assert_eq!(store.put("pid:1", "blob", "a", "0", &LIMITS)?, 2);
    assert_eq!(
        store.usage("pid:1")?,
        Usage {
            objects: 2,
            bytes: 102
        }
    );
    store.put("pid:1", "blob", "c", &value_of_size("c", 50), &LIMITS)?;
    assert_eq!(
        store.usage("pid:1")?,
        Usage {
            objects: 3,
            bytes: 152
        }
    );

    store.delete("pid:1", "blob", "b", None)?;
    assert_eq!(
        store.usage("pid:1")?,
        Usage {
            objects: 2,
            bytes: 52
        }
    );
    Ok(())
}

#[test]
fn shrinking_is_allowed_over_a_lowered_limit() -> Result<()> {
    let (_dir, store) = store();
    for key in ["a", "b", "c"] {
        store.put("pid:1", "blob", key, &value_of_size(key, 60), &LIMITS)?;
    }
    let lowered = MemoryLimits {
        max_object_bytes: 100,
        max_objects: 1,
        max_namespace_bytes: 50,
    };
    // Still over both limits afterwards, but smaller: allowed.
    assert_eq!(store.put("pid:1", "blob", "a", "1", &lowered)?, 2);
    assert_eq!(
        store.usage("pid:1")?,
        Usage {
            objects: 3,
            bytes: 122
        }
    );
    // Growth and creation are not.
    assert!(store.put("pid:1", "blob", "a", "12", &lowered).is_err());
    assert!(store.put("pid:1", "blob", "d", "1", &lowered).is_err());
    assert_eq!(
        store.usage("pid:1")?,
        Usage {
            objects: 3,
            bytes: 122
        }
    );
    Ok(())
}

#[test]
fn zero_limits_refuse_everything() -> Result<()> {
    let (_dir, store) = store();
    let zero = MemoryLimits {
        max_object_bytes: 0,
        max_objects: 0,
        max_namespace_bytes: 0,
    };
    assert!(matches!(
        store.put("pid:1", "blob", "a", "1", &zero),
        Err(MemoryError::TooLarge { size: 2, max: 0 })
    ));
    let objects_only = MemoryLimits {
        max_objects: 0,
        ..LIMITS
    };
    assert!(matches!(
        store.put("pid:1", "blob", "a", "1", &objects_only),
        Err(MemoryError::NamespaceFull {
            limit: LimitKind::Objects,
            requested: 1,
            max: 0
        })
    ));
    assert_eq!(store.usage("pid:1")?, Usage::default());
    Ok(())
}

#[test]
fn default_limits() {
    let limits = MemoryLimits::default();
    assert_eq!(limits.max_object_bytes, 64 * 1024);
    assert_eq!(limits.max_objects, 10_000);
    assert_eq!(limits.max_namespace_bytes, 16 * 1024 * 1024);
    let partial: MemoryLimits =
        serde_json::from_str(r#"{"max_objects": 5}"#).expect("partial limits");
    assert_eq!(
        partial,
        MemoryLimits {
            max_objects: 5,
            ..MemoryLimits::default()
        }
    );
}
