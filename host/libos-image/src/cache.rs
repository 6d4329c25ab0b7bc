//! Resolved references, kept while the database is unchanged.
//!
//! Every spawn resolves an image reference; reading and decoding the record each time was a
//! large part of a spawn. SQLite's `PRAGMA data_version` changes whenever another connection
//! commits (a build in another terminal, but also any other table in the file), so a
//! resolution is reused only while it has not changed; a build through the store's own
//! connection, which the pragma does not count, clears the cache itself.
//!
//! Reading the pragma is a read transaction (file locks: system calls), so it is read at most
//! once per [`RECHECK`]: a build through another connection is seen within that time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::image::Image;

/// How many resolutions are kept at most (references are the caller's strings).
const CAPACITY: usize = 256;

/// How long a look at `data_version` is trusted.
pub(crate) const RECHECK: Duration = Duration::from_millis(100);

/// Resolutions of references, valid for one `data_version` of the connection.
#[derive(Debug, Default)]
pub(crate) struct ResolvedCache {
    version: i64,
    checked: Option<Instant>,
    images: HashMap<String, Arc<Image>>,
}

impl ResolvedCache {
    /// The image `reference` resolved to, if nothing was committed since (through another
    /// connection: up to [`RECHECK`] ago).
    pub(crate) fn get(&mut self, conn: &Connection, reference: &str) -> Option<Arc<Image>> {
        let now = Instant::now();
        if self
            .checked
            .is_none_or(|at| now.duration_since(at) >= RECHECK)
        {
            let version = data_version(conn)?;
            self.checked = Some(now);
            if version != self.version {
                self.images.clear();
                self.version = version;
                return None;
            }
        }
        self.images.get(reference).cloned()
    }

    /// Keeps that `reference` resolved to `image` (read at the current `data_version`).
    pub(crate) fn put(&mut self, reference: &str, image: &Arc<Image>) {
        if self.images.len() >= CAPACITY {
            self.images.clear();
        }
        self.images.insert(reference.to_owned(), Arc::clone(image));
    }

    /// Forgets every resolution (after a change through the store's own connection).
    pub(crate) fn clear(&mut self) {
        self.images.clear();
    }
}

fn data_version(conn: &Connection) -> Option<i64> {
    conn.prepare_cached("PRAGMA data_version")
        .ok()?
        .query_row([], |row| row.get(0))
        .ok()
}
