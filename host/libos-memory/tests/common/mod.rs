//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use libos_memory::{MemoryLimits, ObjectStore};
use tempfile::TempDir;

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn store() -> (TempDir, ObjectStore) {
    let (dir, path) = db_path();
    let store = ObjectStore::open(&path).expect("open store");
    (dir, store)
}

/// A path for a database file in a fresh temporary directory.
pub fn db_path() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("libos.db");
    (dir, path)
}

/// Default limits.
pub fn limits() -> MemoryLimits {
    MemoryLimits::default()
}
