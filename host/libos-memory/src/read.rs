//! Queries that read objects and usage. They run on a plain connection or inside a write
//! transaction (a [`rusqlite::Transaction`] dereferences to a [`Connection`]).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::object::{Object, ObjectMeta, Usage};
use crate::sql::to_u64;

/// The version and size of an existing object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Current {
    pub(crate) version: u64,
    pub(crate) size: u64,
}

/// Reads one object, or `None` if it does not exist.
pub(crate) fn object(
    conn: &Connection,
    namespace: &str,
    kind: &str,
    key: &str,
) -> Result<Option<Object>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, value, updated_ns FROM memory_objects
         WHERE namespace = ?1 AND kind = ?2 AND key = ?3",
    )?;
    let row = stmt
        .query_row(params![namespace, kind, key], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    let Some((version, value, updated_ns)) = row else {
        return Ok(None);
    };
    Ok(Some(Object {
        kind: kind.to_owned(),
        key: key.to_owned(),
        version: to_u64(version, "version")?,
        value,
        updated_ns: to_u64(updated_ns, "updated_ns")?,
    }))
}

/// Reads the version and size of one object, or `None` if it does not exist.
pub(crate) fn current(
    conn: &Connection,
    namespace: &str,
    kind: &str,
    key: &str,
) -> Result<Option<Current>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, size FROM memory_objects
         WHERE namespace = ?1 AND kind = ?2 AND key = ?3",
    )?;
    let row = stmt
        .query_row(params![namespace, kind, key], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()?;
    match row {
        None => Ok(None),
        Some((version, size)) => Ok(Some(Current {
            version: to_u64(version, "version")?,
            size: to_u64(size, "size")?,
        })),
    }
}

/// Lists up to `limit` objects of one kind with keys greater than `after`, ordered by key
/// (byte-wise on UTF-8, which is code-point order).
pub(crate) fn list(
    conn: &Connection,
    namespace: &str,
    kind: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ObjectMeta>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, version, size, updated_ns FROM memory_objects
         WHERE namespace = ?1 AND kind = ?2 AND key > ?3
         ORDER BY key LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![namespace, kind, after, limit], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, i64>(3)?,
        ))
    })?;
    let mut metas = Vec::new();
    for row in rows {
        let (key, version, size, updated_ns) = row?;
        metas.push(ObjectMeta {
            key,
            version: to_u64(version, "version")?,
            size: to_u64(size, "size")?,
            updated_ns: to_u64(updated_ns, "updated_ns")?,
        });
    }
    Ok(metas)
}

/// Reads a namespace's usage; a namespace without objects uses nothing.
pub(crate) fn usage(conn: &Connection, namespace: &str) -> Result<Usage> {
    let mut stmt =
        conn.prepare_cached("SELECT objects, bytes FROM memory_usage WHERE namespace = ?1")?;
    let row = stmt
        .query_row(params![namespace], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()?;
    match row {
        None => Ok(Usage::default()),
        Some((objects, bytes)) => Ok(Usage {
            objects: to_u64(objects, "object count")?,
            bytes: to_u64(bytes, "byte total")?,
        }),
    }
}
