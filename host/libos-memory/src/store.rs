//! The object store: validation, locking and transactions around [`crate::read`] and
//! [`crate::write`].

use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use libos_db::SharedConnection;

use rusqlite::Connection;

use crate::error::Result;
use crate::limits::{MemoryLimits, check_object_size};
use crate::names::{validate_key, validate_kind, validate_namespace};
use crate::object::{Object, ObjectMeta, Usage, object_size};
use crate::value::validate_json;
use crate::write::{self, Target};
use crate::{read, schema};

/// The most entries one [`ObjectStore::list`] call returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// Versioned JSON objects addressed by `(namespace, kind, key)`, stored in SQLite.
///
/// # Storage
/// Two tables in the shared database file, created if missing (nothing else is touched):
///
/// ```sql
/// memory_objects(namespace TEXT, kind TEXT, key TEXT, version INTEGER, value TEXT,
///                size INTEGER, updated_ns INTEGER, PRIMARY KEY (namespace, kind, key))
/// memory_usage(namespace TEXT PRIMARY KEY, objects INTEGER, bytes INTEGER)
/// ```
///
/// `memory_usage` caches each non-empty namespace's object count and total size and is updated
/// in the same transaction as the objects. The database uses WAL journaling and a 5 s busy
/// timeout; every mutation is one `BEGIN IMMEDIATE` transaction that reads the current state,
/// checks versions and limits, and writes — so concurrent handles, threads or processes on the
/// same file are serialized and can never break a limit or skip a version.
///
/// # Inputs
/// Every call validates its namespace, kind and key (see [`crate::names`]) and every write
/// validates its value (see [`crate::validate_json`]) before touching the database. Values are
/// stored byte for byte as given. The store does no authorization: callers check capabilities
/// before calling.
///
/// # Errors
/// Every refusal ([`crate::MemoryError::Invalid`], `TooLarge`, `NamespaceFull`,
/// `VersionMismatch`) leaves the store unchanged. Database failures, including waiting past the
/// busy timeout, are reported as [`crate::MemoryError::Store`] and roll the transaction back.
///
/// The handle is `Send + Sync`; calls from several threads are serialized on one connection.
#[derive(Debug)]
pub struct ObjectStore {
    pub(crate) conn: SharedConnection,
    path: PathBuf,
}

impl ObjectStore {
    /// Opens the store in the database file at `db_path`, creating the file and the tables if
    /// needed.
    ///
    /// # Errors
    /// [`crate::MemoryError::Store`] if the file cannot be opened, WAL mode cannot be enabled
    /// or the tables cannot be created.
    pub fn open(db_path: impl AsRef<Path>) -> Result<Self> {
        let path = db_path.as_ref().to_path_buf();
        let conn = schema::open(&path)?;
        Ok(ObjectStore {
            conn: SharedConnection::new(conn),
            path,
        })
    }

    /// The database file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the object (version 1) or replaces it unconditionally (version + 1), and returns
    /// the new version.
    ///
    /// # Errors
    /// `Invalid` for a bad namespace, kind, key or JSON value; `TooLarge` if
    /// [`object_size`] exceeds `limits.max_object_bytes`; `NamespaceFull` if creating would
    /// exceed `limits.max_objects` or growing would exceed `limits.max_namespace_bytes`;
    /// `Store` on database failure.
    pub fn put(
        &self,
        namespace: &str,
        kind: &str,
        key: &str,
        json: &str,
        limits: &MemoryLimits,
    ) -> Result<u64> {
        self.write_object(namespace, kind, key, json, None, limits)
    }

    /// Like [`ObjectStore::put`], but only if the object's current version is
    /// `expected_version`; 0 means the object must not exist yet.
    ///
    /// # Errors
    /// As [`ObjectStore::put`], plus `VersionMismatch { expected, current }` (with `current`
    /// `None` if the object does not exist) when the version differs; the version is checked
    /// before the limits.
    pub fn compare_and_swap(
        &self,
        namespace: &str,
        kind: &str,
        key: &str,
        expected_version: u64,
        json: &str,
        limits: &MemoryLimits,
    ) -> Result<u64> {
        self.write_object(namespace, kind, key, json, Some(expected_version), limits)
    }

    /// Reads one object, or `None` if it does not exist.
    ///
    /// # Errors
    /// `Invalid` for a bad namespace, kind or key; `Store` on database failure.
    pub fn get(&self, namespace: &str, kind: &str, key: &str) -> Result<Option<Object>> {
        validate_target(namespace, kind, key)?;
        read::object(&self.lock(), namespace, kind, key)
    }

    /// Lists objects of one kind in key order (byte order of UTF-8), starting after the key
    /// `after` (exclusive; `None` starts at the beginning), at most `limit` entries, capped at
    /// [`MAX_LIST_LIMIT`]. To page, pass the last key returned as the next `after`. `after` is
    /// only a bound and need not be a valid key.
    ///
    /// # Errors
    /// `Invalid` for a bad namespace or kind; `Store` on database failure.
    pub fn list(
        &self,
        namespace: &str,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ObjectMeta>> {
        validate_namespace(namespace)?;
        validate_kind(kind)?;
        // At most MAX_LIST_LIMIT, so the conversion cannot fail.
        let limit = i64::try_from(limit.min(MAX_LIST_LIMIT)).unwrap_or(0);
        // Keys are never empty, so "" is below every key.
        read::list(&self.lock(), namespace, kind, after.unwrap_or(""), limit)
    }

    /// Deletes one object and reports whether it existed. With `expected_version`, deletes only
    /// if the object's current version equals it (`Some(0)`: succeeds, deleting nothing, only
    /// if the object does not exist).
    ///
    /// # Errors
    /// `Invalid` for a bad namespace, kind or key; `VersionMismatch` if `expected_version` is
    /// given and differs (nothing is deleted); `Store` on database failure.
    pub fn delete(
        &self,
        namespace: &str,
        kind: &str,
        key: &str,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        validate_target(namespace, kind, key)?;
        let target = Target {
            namespace,
            kind,
            key,
        };
        self.transaction(|conn| write::delete(conn, target, expected_version))
    }

    /// How many objects and bytes (see [`object_size`]) a namespace uses; zero for a namespace
    /// that holds nothing.
    ///
    /// # Errors
    /// `Invalid` for a bad namespace; `Store` on database failure.
    pub fn usage(&self, namespace: &str) -> Result<Usage> {
        validate_namespace(namespace)?;
        read::usage(&self.lock(), namespace)
    }

    /// Deletes every object in a namespace (for example when its process is reaped) and
    /// returns how many were removed.
    ///
    /// # Errors
    /// `Invalid` for a bad namespace; `Store` on database failure.
    pub fn delete_namespace(&self, namespace: &str) -> Result<u64> {
        validate_namespace(namespace)?;
        self.transaction(|conn| write::delete_namespace(conn, namespace))
    }

    fn write_object(
        &self,
        namespace: &str,
        kind: &str,
        key: &str,
        json: &str,
        expected: Option<u64>,
        limits: &MemoryLimits,
    ) -> Result<u64> {
        validate_target(namespace, kind, key)?;
        let size = object_size(key, json);
        check_object_size(size, limits)?;
        validate_json(json)?;
        let target = Target {
            namespace,
            kind,
            key,
        };
        self.transaction(|conn| write::put(conn, target, json, size, expected, limits))
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction, committing only if it succeeds.
    fn transaction<T>(&self, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.conn.immediate(body)
    }

    /// Locks the connection (see [`SharedConnection::lock`]).
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock()
    }
}

fn validate_target(namespace: &str, kind: &str, key: &str) -> Result<()> {
    validate_namespace(namespace)?;
    validate_kind(kind)?;
    validate_key(key)
}
