//! Open working directories, shared by the calls and processes that work in the same one.
//!
//! Opening a directory walks its path and takes a file descriptor; a host that starts many
//! processes in one working directory would do it for each. The host keeps each directory it
//! opened and hands the same handle out again while the path still names that directory
//! (same device and inode, checked with one `stat` of the path at most every [`RECHECK`]):
//! a directory replaced or moved away is opened afresh for the calls that start from then
//! on. (Until it is noticed, calls keep working in the directory the path named before: the
//! one the host was given, never one it was not.)

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cap_std::fs::Dir;

use crate::reserved::Reserved;

/// Directories kept at most; past it the oldest handles are let go (calls holding one keep
/// it).
const KEPT: usize = 64;

/// How long a look at a path is trusted.
const RECHECK: Duration = Duration::from_millis(100);

/// The working directories a host has open.
pub(crate) struct Workdirs {
    open: Mutex<HashMap<PathBuf, Kept>>,
    recheck: Duration,
    /// The state directory, canonical (see [`Reserved`]).
    state: PathBuf,
}

/// One open working directory, as handed to a call.
#[derive(Clone)]
pub(crate) struct Workdir {
    pub(crate) dir: Arc<Dir>,
    /// The path it was opened by (where shell commands run).
    pub(crate) path: Arc<Path>,
    /// Its canonical path (what kernel-level confinement names).
    pub(crate) canonical: Arc<Path>,
    /// Where the state directory lies in it.
    pub(crate) reserved: Arc<Reserved>,
}

struct Kept {
    open: Workdir,
    id: (u64, u64),
    checked: Instant,
}

impl Workdirs {
    /// Working directories of a host whose state directory is `state` (canonical).
    pub(crate) fn new(state: PathBuf) -> Self {
        Workdirs::rechecking_every(RECHECK, state)
    }

    /// Kept directories whose path is looked at again after `recheck`.
    pub(crate) fn rechecking_every(recheck: Duration, state: PathBuf) -> Self {
        Workdirs {
            open: Mutex::default(),
            recheck,
            state,
        }
    }

    /// The directory at `path`, opened with the host's ambient authority (the caller decides
    /// which path is a call's working directory).
    /// The path comes back as one shared handle too, for what needs the host path (shell
    /// commands run there).
    pub(crate) fn open(&self, path: &Path) -> std::io::Result<Workdir> {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = open.get_mut(path) {
            if now.duration_since(kept.checked) < self.recheck {
                return Ok(kept.open.clone());
            }
            let meta = std::fs::metadata(path)?;
            if kept.id == (meta.dev(), meta.ino()) {
                kept.checked = now;
                return Ok(kept.open.clone());
            }
        }
        let dir = Arc::new(Dir::open_ambient_dir(path, cap_std::ambient_authority())?);
        // What a writer killed mid-replace left in the root (see `beneath::atomic_write`).
        let swept = crate::primitives::beneath::sweep_temporaries(std::os::fd::AsFd::as_fd(&*dir));
        if swept > 0 {
            tracing::info!(swept, path = %path.display(), "removed temporary files of interrupted writes");
        }
        let meta = dir.dir_metadata()?;
        let canonical = std::fs::canonicalize(path)?;
        let reserved = Reserved::between(&canonical, &self.state);
        if open.len() >= KEPT {
            open.clear();
        }
        let workdir = Workdir {
            dir,
            path: Arc::from(path),
            canonical: Arc::from(canonical),
            reserved: Arc::new(reserved),
        };
        open.insert(
            path.to_path_buf(),
            Kept {
                open: workdir.clone(),
                id: (
                    cap_std::fs::MetadataExt::dev(&meta),
                    cap_std::fs::MetadataExt::ino(&meta),
                ),
                checked: now,
            },
        );
        Ok(workdir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_handle_while_the_path_names_the_same_directory() -> std::io::Result<()> {
        let base = tempfile::tempdir()?;
        let work = base.path().join("work");
        std::fs::create_dir(&work)?;
        let state = base.path().canonicalize()?.join("state");
        let dirs = Workdirs::rechecking_every(Duration::ZERO, state.clone());
        let first = dirs.open(&work)?.dir;
        assert!(Arc::ptr_eq(&first, &dirs.open(&work)?.dir), "reused");
        assert_eq!(*dirs.open(&work)?.reserved, Reserved::Elsewhere);
        let trusting = Workdirs::rechecking_every(Duration::from_secs(3600), state);
        let kept = trusting.open(&work)?.dir;

        // Replaced: the old handle still names the directory moved away; a new open does not.
        std::fs::rename(&work, base.path().join("old"))?;
        std::fs::create_dir(&work)?;
        std::fs::write(work.join("new.txt"), "new")?;
        let second = dirs.open(&work)?.dir;
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(second.exists("new.txt") && !first.exists("new.txt"));
        assert!(
            Arc::ptr_eq(&kept, &trusting.open(&work)?.dir),
            "not looked at again within the recheck time: the directory it was given"
        );

        std::fs::remove_dir_all(&work)?;
        assert!(
            dirs.open(&work).is_err(),
            "gone: an error, not the old handle"
        );
        Ok(())
    }
}
