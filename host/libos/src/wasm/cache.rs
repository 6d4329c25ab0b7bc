//! The compiled-component cache.
//!
//! Compiling a component takes milliseconds to seconds; loading a compiled one takes
//! microseconds. Compiled artifacts are stored under the state directory, keyed by the
//! SHA-256 of the component's bytes and the engine's compatibility key, so a second load of
//! the same component with the same engine does not recompile. The state directory is trusted
//! (artifacts are native code); a corrupt or stale artifact is discarded and recompiled.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use libos_db::SharedConnection;
use rusqlite::OptionalExtension;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::LoadError;
use crate::wasm::engine::compatibility_key;

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The compiled artifact was found and loaded.
    Hit,
    /// The component was compiled (and the artifact stored).
    Miss,
}

/// A directory of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
    engine_key: String,
    /// The state database, where the digest of every stored artifact is recorded.
    db: Arc<SharedConnection>,
}

/// The table of recorded artifact digests.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS compiled_components (
    artifact TEXT PRIMARY KEY,
    sha256 BLOB NOT NULL,
    stored_ns INTEGER NOT NULL
) WITHOUT ROWID;";

/// Largest artifact read back (a component is at most 64 MiB by default; its native code a
/// few times that).
const MAX_ARTIFACT: u64 = 1 << 30;

impl ComponentCache {
    /// A cache in `dir` for artifacts compiled by `engine`, recording digests in the database
    /// at `db_path`.
    ///
    /// # Errors
    /// [`LoadError::Cache`] if the database cannot be opened.
    pub fn new(dir: &Path, engine: &Engine, db_path: &Path) -> Result<Self, LoadError> {
        let conn = libos_db::open(db_path, SCHEMA)
            .map_err(|e| LoadError::Cache(format!("opening {}: {e}", db_path.display())))?;
        Ok(ComponentCache {
            dir: dir.to_path_buf(),
            engine_key: compatibility_key(engine),
            db: Arc::new(SharedConnection::new(conn)),
        })
    }

    /// Hex SHA-256 of component bytes (the content address).
    pub fn digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn artifact_name(&self, digest: &str) -> String {
        format!("{digest}-{}.cwasm", self.engine_key)
    }

    /// The bytes of the artifact `name` if they hash to the digest recorded when this host (or
    /// another on the same state directory) stored it; `None` (after saying why) otherwise.
    fn verified(&self, name: &str, artifact: &Path) -> Option<Vec<u8>> {
        use std::io::Read as _;
        let file = std::fs::File::open(artifact).ok()?;
        let mut bytes = Vec::new();
        if file.take(MAX_ARTIFACT).read_to_end(&mut bytes).is_err() {
            return None;
        }
        let recorded: Option<Vec<u8>> = self
            .db
            .lock()
            .query_row(
                "SELECT sha256 FROM compiled_components WHERE artifact = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "reading the recorded artifact digests");
                None
            });
        let actual = Sha256::digest(&bytes);
        if recorded.as_deref() == Some(actual.as_slice()) {
            return Some(bytes);
        }
        tracing::warn!(
            artifact = %artifact.display(),
            "cached artifact does not match the digest recorded when it was stored: recompiling"
        );
        None
    }

    /// Loads the compiled form of `bytes`, compiling (on a blocking thread) on a miss.
    /// `bytes` must already be known to be a component (not a core module).
    pub async fn load(
        &self,
        engine: &Engine,
        bytes: Vec<u8>,
        digest: &str,
        origin: &Path,
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let name = self.artifact_name(digest);
        let artifact = self.dir.join(&name);
        let started = Instant::now();
        if let Some(verified) = self.verified(&name, &artifact) {
            // SAFETY: these bytes hash to the digest this host recorded when it serialized
            // them (`store` below: `Component::serialize` of an engine with the same
            // compatibility key); they are the bytes just hashed, not the file read again.
            match unsafe { Component::deserialize(engine, &verified) } {
                Ok(c) => {
                    tracing::info!(
                        component = %origin.display(),
                        micros = started.elapsed().as_micros() as u64,
                        "compiled-component cache hit"
                    );
                    return Ok((c, CacheOutcome::Hit));
                }
                Err(e) => {
                    tracing::warn!(artifact = %artifact.display(), error = %e, "discarding unusable cached artifact");
                    let _ = std::fs::remove_file(&artifact);
                }
            }
        }
        let started = Instant::now();
        let engine2 = engine.clone();
        let compiled = tokio::task::spawn_blocking(move || Component::new(&engine2, &bytes))
            .await
            .map_err(|e| LoadError::Cache(format!("compiler task failed: {e}")))?
            .map_err(|e| LoadError::Malformed {
                path: origin.to_path_buf(),
                message: format!("{e:#}"),
            })?;
        tracing::info!(
            component = %origin.display(),
            millis = started.elapsed().as_millis() as u64,
            "compiled-component cache miss: compiled"
        );
        if let Err(e) = self.store(&compiled, &name, &artifact) {
            // The cache is an optimisation: a failure to store is reported, not fatal.
            tracing::warn!(artifact = %artifact.display(), error = %e, "could not store compiled component");
        }
        Ok((compiled, CacheOutcome::Miss))
    }

    /// Writes the artifact and records its digest, the rename and the record in one
    /// transaction (so two hosts storing the same artifact cannot leave one's file under the
    /// other's digest).
    fn store(&self, component: &Component, name: &str, artifact: &Path) -> Result<(), String> {
        let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
        let digest = Sha256::digest(&bytes).to_vec();
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let tmp = artifact.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        let stored = self.db.immediate(|tx| {
            tx.execute(
                "INSERT INTO compiled_components (artifact, sha256, stored_ns) VALUES (?1, ?2, ?3)
                 ON CONFLICT (artifact) DO UPDATE SET sha256 = ?2, stored_ns = ?3",
                rusqlite::params![name, digest, now_ns()],
            )?;
            std::fs::rename(&tmp, artifact)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
        });
        if stored.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        stored.map_err(|e| e.to_string())
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
