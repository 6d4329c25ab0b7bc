//! A namespace's objects as a whole: taken as a snapshot (inside a caller's transaction, so it
//! can be consistent with other tables of the same database) and put back as a namespace's
//! whole content.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{MemoryError, Result};
use crate::limits::MemoryLimits;
use crate::names::validate_namespace;
use crate::object::object_size;
use crate::store::ObjectStore;
use crate::value::validate_json;
use crate::write::{self, Target};

/// Most objects one snapshot holds.
pub const MAX_SNAPSHOT_OBJECTS: usize = 100_000;

/// One object of a snapshot: where it is and its JSON value (versions start again at 1 when
/// it is put back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotObject {
    /// The object's kind.
    pub kind: String,
    /// The object's key.
    pub key: String,
    /// The JSON value as written.
    pub value: String,
}

impl ObjectStore {
    /// Every object of `namespace`, by kind and key, read on `conn` (a connection to the same
    /// database, typically inside the caller's transaction). A database whose memory table
    /// was never created holds none.
    ///
    /// # Errors
    /// `Invalid` for a bad namespace or more than [`MAX_SNAPSHOT_OBJECTS`] objects; `Store` on
    /// database failure.
    pub fn snapshot_in(conn: &Connection, namespace: &str) -> Result<Vec<SnapshotObject>> {
        validate_namespace(namespace)?;
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'memory_objects'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT kind, key, value FROM memory_objects WHERE namespace = ?1
             ORDER BY kind, key LIMIT ?2",
        )?;
        let cap = i64::try_from(MAX_SNAPSHOT_OBJECTS + 1).unwrap_or(i64::MAX);
        let objects = stmt
            .query_map(params![namespace, cap], |r| {
                Ok(SnapshotObject {
                    kind: r.get(0)?,
                    key: r.get(1)?,
                    value: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if objects.len() > MAX_SNAPSHOT_OBJECTS {
            return Err(MemoryError::Invalid(format!(
                "namespace {namespace} holds more than {MAX_SNAPSHOT_OBJECTS} objects"
            )));
        }
        Ok(objects)
    }

    /// Makes `objects` the whole content of `namespace` (what it held before is deleted), in
    /// one transaction, within `limits`: all or nothing.
    ///
    /// # Errors
    /// As [`ObjectStore::put`] for any object (nothing is changed then); `Store` on database
    /// failure.
    pub fn replace_namespace(
        &self,
        namespace: &str,
        objects: &[SnapshotObject],
        limits: &MemoryLimits,
    ) -> Result<()> {
        validate_namespace(namespace)?;
        for o in objects {
            crate::names::validate_kind(&o.kind)?;
            crate::names::validate_key(&o.key)?;
            validate_json(&o.value)?;
        }
        self.conn.immediate(|conn| {
            write::delete_namespace(conn, namespace)?;
            for o in objects {
                let size = object_size(&o.key, &o.value);
                crate::limits::check_object_size(size, limits)?;
                let target = Target {
                    namespace,
                    kind: &o.kind,
                    key: &o.key,
                };
                write::put(conn, target, &o.value, size, None, limits)?;
            }
            Ok(())
        })
    }
}
