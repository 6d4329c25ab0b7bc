//! The compiled-component cache.
//!
//! Compiling a component takes milliseconds to seconds; loading a compiled one takes
//! microseconds. Compiled artifacts are stored under the state directory, keyed by the
//! SHA-256 of the component's bytes and the engine's compatibility key, so a second load of
//! the same component with the same engine does not recompile. The state directory is trusted
//! (artifacts are native code); a corrupt or stale artifact is discarded and recompiled.

use std::path::{Path, PathBuf};
use std::time::Instant;

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
}

impl ComponentCache {
    /// A cache in `dir` for artifacts compiled by `engine`.
    pub fn new(dir: &Path, engine: &Engine) -> Self {
        ComponentCache {
            dir: dir.to_path_buf(),
            engine_key: compatibility_key(engine),
        }
    }

    /// Hex SHA-256 of component bytes (the content address).
    pub fn digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn artifact_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
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
        let artifact = self.artifact_path(digest);
        if artifact.exists() {
            let started = Instant::now();
            // SAFETY: artifacts are only written by `store` below, from `Component::serialize`
            // of an engine with the same compatibility key, into the trusted state directory.
            match unsafe { Component::deserialize_file(engine, &artifact) } {
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
        if let Err(e) = self.store(&compiled, &artifact) {
            // The cache is an optimisation: a failure to store is reported, not fatal.
            tracing::warn!(artifact = %artifact.display(), error = %e, "could not store compiled component");
        }
        Ok((compiled, CacheOutcome::Miss))
    }

    fn store(&self, component: &Component, artifact: &Path) -> Result<(), String> {
        let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let tmp = artifact.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, artifact).map_err(|e| e.to_string())
    }
}
