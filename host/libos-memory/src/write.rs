//! Mutations. Each function runs inside the caller's `BEGIN IMMEDIATE` transaction and checks
//! everything before its first write, so an error leaves nothing to undo (the transaction is
//! rolled back regardless).

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};

use crate::error::{MemoryError, Result};
use crate::limits::{MemoryLimits, usage_after_write};
use crate::object::Usage;
use crate::read::{self, Current};
use crate::sql::to_i64;

/// The address of one object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) key: &'a str,
}

/// Creates or replaces the object at `target` with `value` of `size` bytes and returns its new
/// version. With `expected` set, the object's current version must equal it (0: must not
/// exist).
pub(crate) fn put(
    conn: &Connection,
    target: Target<'_>,
    value: &str,
    size: u64,
    expected: Option<u64>,
    limits: &MemoryLimits,
) -> Result<u64> {
    let current = read::current(conn, target.namespace, target.kind, target.key)?;
    if let Some(expected) = expected {
        check_version(expected, current)?;
    }
    let usage = read::usage(conn, target.namespace)?;
    let usage = usage_after_write(usage, current.map(|c| c.size), size, limits)?;
    let version = match current {
        None => 1,
        Some(current) => current.version.saturating_add(1),
    };
    conn.prepare_cached(
        "INSERT INTO memory_objects (namespace, kind, key, version, value, size, updated_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (namespace, kind, key) DO UPDATE SET
             version = excluded.version,
             value = excluded.value,
             size = excluded.size,
             updated_ns = excluded.updated_ns",
    )?
    .execute(params![
        target.namespace,
        target.kind,
        target.key,
        to_i64(version, "version")?,
        value,
        to_i64(size, "size")?,
        now_ns(),
    ])?;
    set_usage(conn, target.namespace, usage)?;
    Ok(version)
}

/// Deletes the object at `target` and reports whether it existed. With `expected` set, the
/// object's current version must equal it (0: must not exist, in which case nothing is
/// deleted).
pub(crate) fn delete(conn: &Connection, target: Target<'_>, expected: Option<u64>) -> Result<bool> {
    let current = read::current(conn, target.namespace, target.kind, target.key)?;
    if let Some(expected) = expected {
        check_version(expected, current)?;
    }
    let Some(current) = current else {
        return Ok(false);
    };
    conn.prepare_cached(
        "DELETE FROM memory_objects WHERE namespace = ?1 AND kind = ?2 AND key = ?3",
    )?
    .execute(params![target.namespace, target.kind, target.key])?;
    let usage = read::usage(conn, target.namespace)?;
    let usage = Usage {
        objects: usage.objects.saturating_sub(1),
        bytes: usage.bytes.saturating_sub(current.size),
    };
    set_usage(conn, target.namespace, usage)?;
    Ok(true)
}

/// Deletes every object in `namespace` and returns how many there were.
pub(crate) fn delete_namespace(conn: &Connection, namespace: &str) -> Result<u64> {
    let removed = conn
        .prepare_cached("DELETE FROM memory_objects WHERE namespace = ?1")?
        .execute(params![namespace])?;
    conn.prepare_cached("DELETE FROM memory_usage WHERE namespace = ?1")?
        .execute(params![namespace])?;
    Ok(u64::try_from(removed).unwrap_or(u64::MAX))
}

/// Refuses unless the current version is `expected` (0: the object must not exist).
fn check_version(expected: u64, current: Option<Current>) -> Result<()> {
    let current = current.map(|c| c.version);
    let matches = match current {
        None => expected == 0,
        Some(version) => version == expected,
    };
    if matches {
        Ok(())
    } else {
        Err(MemoryError::VersionMismatch { expected, current })
    }
}

/// Records a namespace's usage; a namespace left without objects loses its row.
fn set_usage(conn: &Connection, namespace: &str, usage: Usage) -> Result<()> {
    if usage.objects == 0 {
        conn.prepare_cached("DELETE FROM memory_usage WHERE namespace = ?1")?
            .execute(params![namespace])?;
    } else {
        conn.prepare_cached(
            "INSERT INTO memory_usage (namespace, objects, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (namespace) DO UPDATE SET
                 objects = excluded.objects,
                 bytes = excluded.bytes",
        )?
        .execute(params![
            namespace,
            to_i64(usage.objects, "object count")?,
            to_i64(usage.bytes, "byte total")?,
        ])?;
    }
    Ok(())
}

/// The current time in nanoseconds since the Unix epoch, clamped to what SQLite can store
/// (0 if the clock reads before the epoch).
fn now_ns() -> i64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    i64::try_from(nanos).unwrap_or(i64::MAX)
}
