//! The content-addressed component store: `<state_dir>/images/sha256/<64 hex digits>`.
//!
//! A blob is written to a temporary file in `<state_dir>/images/tmp/`, flushed, made
//! read-only and renamed into place, so readers never see a partial blob and concurrent
//! writers of the same content simply replace one complete copy with another.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::component::MAX_COMPONENT_SIZE;
use crate::digest::Digest;
use crate::error::ImageError;

/// Distinguishes temporary files written by this process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The blob directories of one state directory.
#[derive(Debug, Clone)]
pub(crate) struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Creates the blob directories under `state_dir` if needed.
    pub(crate) fn open(state_dir: &Path) -> Result<BlobStore, ImageError> {
        let images = state_dir.join("images");
        let dir = images.join("sha256");
        let tmp = images.join("tmp");
        for d in [&dir, &tmp] {
            fs::create_dir_all(d).map_err(|e| ImageError::io(d, e))?;
        }
        Ok(BlobStore { dir, tmp })
    }

    /// Where the blob named `digest` lives.
    pub(crate) fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.to_hex())
    }

    /// Stores `bytes` under their digest. If an intact copy is already present nothing is
    /// written; a damaged copy is replaced.
    pub(crate) fn put(&self, bytes: &[u8]) -> Result<Digest, ImageError> {
        let digest = Digest::of(bytes);
        let path = self.path(&digest);
        if self.read(&digest).is_ok() {
            return Ok(digest);
        }
        let tmp = self.tmp.join(format!(
            "{}.{}.{}.tmp",
            digest.to_hex(),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_read_only(&tmp, bytes)
            .and_then(|()| fs::rename(&tmp, &path).map_err(|e| ImageError::io(&path, e)));
        if written.is_err() {
            // Best effort: the temporary file is useless once writing failed.
            let _ = fs::remove_file(&tmp);
        }
        written?;
        sync_dir(&self.dir);
        Ok(digest)
    }

    /// Reads the blob named `digest` and checks that its content still hashes to `digest`.
    pub(crate) fn read(&self, digest: &Digest) -> Result<Vec<u8>, ImageError> {
        let path = self.path(digest);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ImageError::BlobMissing {
                    digest: digest.to_hex(),
                    path,
                });
            }
            Err(e) => return Err(ImageError::io(&path, e)),
        };
        let mut bytes = Vec::new();
        // A blob larger than any component cannot be intact; reading one byte more than the
        // limit is enough to make its hash differ.
        file.take(MAX_COMPONENT_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::io(&path, e))?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(ImageError::BlobCorrupt {
                digest: digest.to_hex(),
                actual: actual.to_hex(),
            });
        }
        Ok(bytes)
    }
}

/// Writes `bytes` to a new file at `path`, flushes it to disk and makes it read-only.
fn write_read_only(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let io = |e| ImageError::io(path, e);
    let mut file = File::create_new(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    let mut perms = file.metadata().map_err(io)?.permissions();
    perms.set_readonly(true);
    file.set_permissions(perms).map_err(io)?;
    Ok(())
}

/// Flushes a directory entry change (the rename) to disk where the platform supports it.
fn sync_dir(dir: &Path) {
    // Best effort: some platforms and file systems cannot fsync a directory; the blob itself
    // is already durable and a lost rename only means it is written again on the next build.
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}
