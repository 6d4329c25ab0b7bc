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

/// Directories kept at most; past it the oldest handles are let go (calls holding one keep
/// it).
const KEPT: usize = 64;

/// How long a look at a path is trusted.
const RECHECK: Duration = Duration::from_millis(100);

/// The working directories a host has open.
pub(crate) struct Workdirs {
    open: Mutex<HashMap<PathBuf, Kept>>,
    recheck: Duration,
}

impl Default for Workdirs {
    fn default() -> Self {
        Workdirs::rechecking_every(RECHECK)
    }
}

struct Kept {
    dir: Arc<Dir>,
    path: Arc<Path>,
    id: (u64, u64),
    checked: Instant,
}

impl Workdirs {
    /// Kept directories whose path is looked at again after `recheck`.
    pub(crate) fn rechecking_every(recheck: Duration) -> Self {
        Workdirs {
            open: Mutex::default(),
            recheck,
        }
    }

    /// The directory at `path`, opened with the host's ambient authority (the caller decides
    /// which path is a call's working directory).
    /// The path comes back as one shared handle too, for what needs the host path (shell
    /// commands run there).
    pub(crate) fn open(&self, path: &Path) -> std::io::Result<(Arc<Dir>, Arc<Path>)> {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = open.get_mut(path) {
            if now.duration_since(kept.checked) < self.recheck {
                return Ok((Arc::clone(&kept.dir), Arc::clone(&kept.path)));
            }
            let meta = std::fs::metadata(path)?;
            if kept.id == (meta.dev(), meta.ino()) {
                kept.checked = now;
                return Ok((Arc::clone(&kept.dir), Arc::clone(&kept.path)));
            }
        }
        let dir = Arc::new(Dir::open_ambient_dir(path, cap_std::ambient_authority())?);
        let meta = dir.dir_metadata()?;
        if open.len() >= KEPT {
            open.clear();
        }
        let shared: Arc<Path> = Arc::from(path);
        open.insert(
            path.to_path_buf(),
            Kept {
                dir: Arc::clone(&dir),
                path: Arc::clone(&shared),
                id: (
                    cap_std::fs::MetadataExt::dev(&meta),
                    cap_std::fs::MetadataExt::ino(&meta),
                ),
                checked: now,
            },
        );
        Ok((dir, shared))
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
        let dirs = Workdirs::rechecking_every(Duration::ZERO);
        let first = dirs.open(&work)?.0;
        assert!(Arc::ptr_eq(&first, &dirs.open(&work)?.0), "reused");
        let trusting = Workdirs::rechecking_every(Duration::from_secs(3600));
        let kept = trusting.open(&work)?.0;

        // Replaced: the old handle still names the directory moved away; a new open does not.
        std::fs::rename(&work, base.path().join("old"))?;
        std::fs::create_dir(&work)?;
        std::fs::write(work.join("new.txt"), "new")?;
        let second = dirs.open(&work)?.0;
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(second.exists("new.txt") && !first.exists("new.txt"));
        assert!(
            Arc::ptr_eq(&kept, &trusting.open(&work)?.0),
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
