//! The state directory: audit database, compiled-component cache.
//!
//! Chosen, in order: the `--state-dir` flag, the `LIBOS_STATE_DIR` environment variable (both
//! handled by the CLI), `$XDG_STATE_HOME/libos` (on Linux `~/.local/state/libos`), and
//! `./.libos` when no home directory is known.

use std::path::{Path, PathBuf};

use crate::error::HostError;

/// A resolved, existing state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The default location when neither flag nor environment variable names one.
    pub fn default_path() -> PathBuf {
        dirs::state_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
            .map(|d| d.join("libos"))
            .unwrap_or_else(|| PathBuf::from(".libos"))
    }

    /// Opens `root` (or the default), creating it and its subdirectories if needed.
    pub fn open(root: Option<&Path>) -> Result<StateDir, HostError> {
        let root = root
            .map(Path::to_path_buf)
            .unwrap_or_else(Self::default_path);
        let dir = StateDir { root };
        for d in [dir.root.clone(), dir.cache_dir()] {
            std::fs::create_dir_all(&d).map_err(|source| HostError::StateDir {
                path: d.clone(),
                source,
            })?;
        }
        Ok(dir)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database holding the audit log (and, later, the other tables).
    pub fn db_path(&self) -> PathBuf {
        self.root.join("libos.db")
    }

    /// Where hosts keep their leases (see `libos_proctable::hosts`) and a detached host its
    /// messages.
    pub fn hosts_dir(&self) -> PathBuf {
        self.root.join("hosts")
    }

    /// Where compiled components are cached.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache").join("components")
    }
}
