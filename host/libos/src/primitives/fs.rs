//! `libos:runtime/fs`: files in the caller's working directory.
//!
//! Every call: normalize the path (escapes refused and audited), check `fs.<op>` on the
//! normalized path, resolve symbolic links inside the directory, check again if that changed
//! the path, then act on exactly the decided path through [`beneath`], which follows no link:
//! a link swapped in after the decision makes the call fail instead of reaching another file.

use std::io::{self, Read};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use rustix::fs::{FileType, Stat};

use crate::approval::{Describe, Plain};
use crate::bindings::RuntimeError;
use crate::bindings::libos::runtime::fs::{DirEntry, EntryKind, Host, Metadata as WitMetadata};
use crate::bindings::libos::runtime::types::{Datetime, LimitKind};
use crate::call::{CallCtx, digest};
use crate::permit::Permit;
use crate::primitives::beneath;
use crate::primitives::path::{self, PathError};
use crate::primitives::write_preview::{WriteOf, version_of};

type R<T> = Result<T, RuntimeError>;

impl CallCtx {
    /// Validates `raw` (relative to `base`, a normalized path of the working directory, `""`
    /// for the directory itself; `None`: the call's current directory), decides `action` on it, and returns the relative path to
    /// touch with the permit to touch it. Both the path as given and the path its symbolic links lead to are decided; if
    /// the policy asks about either, the person is asked about the real target (described by
    /// `describe`), once. The state directory is refused on both. The returned path must be
    /// acted on through [`beneath`], which refuses any link met after this decision.
    pub(crate) fn fs_target(
        &mut self,
        base: Option<&str>,
        action: &str,
        raw: &str,
        follow_final: bool,
        args_digest: &[u8; 32],
        describe: &dyn Describe,
    ) -> R<(String, Permit)> {
        let cwd = Arc::clone(&self.cwd);
        let base = base.unwrap_or(&cwd);
        let joined;
        let full = if base.is_empty() || raw.starts_with('/') {
            raw
        } else {
            joined = format!("{base}/{raw}");
            &joined
        };
        let normalized = match path::normalize(full) {
            Ok(normalized) => normalized,
            Err(e) => return Err(self.refuse_path(action, full, e)),
        };
        self.refuse_reserved(action, &normalized)?;
        let resolve = |cx: &mut CallCtx| {
            let resolved = match path::resolve(cx.dir()?, &normalized, follow_final) {
                Ok(resolved) => resolved,
                Err(e) => return Err(cx.refuse_path(action, &normalized, e)),
            };
            cx.refuse_reserved(action, &resolved)?;
            Ok(resolved)
        };
        self.permit_path(action, &normalized, resolve, args_digest, describe)
    }

    /// The working directory; every file primitive is denied without one.
    pub(crate) fn dir(&self) -> R<&cap_std::fs::Dir> {
        self.workdir
            .as_deref()
            .ok_or_else(|| RuntimeError::Denied("the call has no working directory".into()))
    }

    /// The working directory's descriptor, which [`beneath`] walks from.
    pub(crate) fn root_fd(&self) -> R<BorrowedFd<'_>> {
        Ok(beneath::fd_of(self.dir()?))
    }

    fn fs_read(&mut self, raw: &str) -> R<Vec<u8>> {
        let d = digest(&[b"fs.read", raw.as_bytes()]);
        let (p, permit) = self.fs_target(None, "fs.read", raw, true, &d, &Plain("fs.read"))?;
        let file = beneath::open_regular(self.root_fd()?, &p).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidInput {
                RuntimeError::Invalid(format!("{raw}: {e}"))
            } else {
                io_error(e)
            }
        })?;
        let len = file.metadata().map_err(io_error)?.len();
        let max = self.limits.max_io;
        if len > max as u64 {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() > max {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        permit.done(None);
        Ok(bytes)
    }

    async fn fs_write(&mut self, raw: &str, contents: &[u8]) -> R<()> {
        let d = digest(&[b"fs.write", raw.as_bytes(), contents]);
        if contents.len() > self.limits.max_io {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        let (p, permit) = self.fs_target(None, "fs.write", raw, true, &d, &WriteOf(contents))?;
        self.fs_write_allowed(raw, &p, contents)?;
        self.record_stored().await?;
        beneath::atomic_write(self.root_fd()?, &p, contents).map_err(io_error)?;
        permit.done(Some(version_of(contents)));
        Ok(())
    }

    /// What a write must pass once authorized and before it happens: a file, not the
    /// working directory or another directory, within the bytes-written budget (charged).
    fn fs_write_allowed(&mut self, raw: &str, p: &str, contents: &[u8]) -> R<()> {
        if p.is_empty() {
            return Err(RuntimeError::Invalid(
                "cannot write to the working directory itself".into(),
            ));
        }
        if let Ok(st) = beneath::stat(self.root_fd()?, p)
            && FileType::from_raw_mode(st.st_mode) == FileType::Directory
        {
            return Err(RuntimeError::Invalid(format!("{raw}: is a directory")));
        }
        if let Some(meter) = &self.meter {
            let len = u64::try_from(contents.len()).unwrap_or(u64::MAX);
            meter
                .charge(crate::error::LimitKind::BytesWritten, len)
                .map_err(|kind| RuntimeError::LimitExceeded(kind.into()))?;
        }
        Ok(())
    }

    fn fs_list(&mut self, raw: &str) -> R<Vec<DirEntry>> {
        let d = digest(&[b"fs.list", raw.as_bytes()]);
        let (p, permit) = self.fs_target(None, "fs.read", raw, true, &d, &Plain("fs.read"))?;
        let fd = beneath::open_dir(self.root_fd()?, &p).map_err(io_error)?;
        let dir = cap_std::fs::Dir::from_std_file(std::fs::File::from(fd));
        let mut entries = Vec::new();
        for entry in dir.entries().map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let kind = entry
                .file_type()
                .map(|t| {
                    if t.is_symlink() {
                        EntryKind::Symlink
                    } else if t.is_dir() {
                        EntryKind::Directory
                    } else if t.is_file() {
                        EntryKind::File
                    } else {
                        EntryKind::Other
                    }
                })
                .unwrap_or(EntryKind::Other);
            let child = if p.is_empty() {
                name.clone()
            } else {
                format!("{p}/{name}")
            };
            if self.hidden_from_listing(&child, matches!(kind, EntryKind::Directory)) {
                continue;
            }
            entries.push(DirEntry { name, kind });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        permit.done(None);
        Ok(entries)
    }

    /// Whether a listing leaves out the entry at `child`: the state directory, and what the
    /// caller may not read (decided quietly: the listing itself is the audited call). A
    /// directory it holds no capability for stays listed (a capability may cover what lies
    /// beneath it); one a policy forbids does not.
    fn hidden_from_listing(&self, child: &str, directory: bool) -> bool {
        if self.reserved.covers(child) {
            return true;
        }
        // A replacement's temporary name in the root, there for an instant.
        if beneath::temporary_of(child).is_some() {
            return true;
        }
        let decided = self
            .authority
            .authority()
            .decided_quietly(&self.subject, "fs.read", child);
        decided.verdict == libos_audit::Verdict::Deny
            && (!directory || !decided.policy_ids.is_empty())
    }

    async fn fs_delete(&mut self, raw: &str) -> R<()> {
        let d = digest(&[b"fs.delete", raw.as_bytes()]);
        let (p, permit) = self.fs_target(None, "fs.delete", raw, false, &d, &Plain("fs.delete"))?;
        self.refuse_above_reserved("fs.delete", &p)?;
        if p.is_empty() {
            return Err(RuntimeError::Invalid(
                "cannot delete the working directory itself".into(),
            ));
        }
        let is_directory = FileType::from_raw_mode(
            beneath::stat(self.root_fd()?, &p)
                .map_err(io_error)?
                .st_mode,
        ) == FileType::Directory;
        self.record_stored().await?;
        let root = self.root_fd()?;
        if is_directory {
            beneath::rmdir(root, &p).map_err(io_error)?;
        } else {
            beneath::unlink(root, &p).map_err(io_error)?;
        }
        permit.done(None);
        Ok(())
    }

    fn fs_stat(&mut self, raw: &str) -> R<WitMetadata> {
        let d = digest(&[b"fs.stat", raw.as_bytes()]);
        let (p, permit) = self.fs_target(None, "fs.read", raw, false, &d, &Plain("fs.read"))?;
        let st = beneath::stat(self.root_fd()?, &p).map_err(io_error)?;
        permit.done(None);
        Ok(metadata_of(&st))
    }
}

fn kind_of(t: FileType) -> EntryKind {
    match t {
        FileType::Symlink => EntryKind::Symlink,
        FileType::Directory => EntryKind::Directory,
        FileType::RegularFile => EntryKind::File,
        _ => EntryKind::Other,
    }
}

fn metadata_of(st: &Stat) -> WitMetadata {
    let kind = kind_of(FileType::from_raw_mode(st.st_mode));
    let modified = u64::try_from(st.st_mtime).ok().map(|seconds| Datetime {
        seconds,
        nanoseconds: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
    });
    WitMetadata {
        kind,
        size: if kind == EntryKind::Directory {
            0
        } else {
            u64::try_from(st.st_size).unwrap_or(0)
        },
        modified,
    }
}

/// The guest's error for a failed file operation.
pub(crate) fn io_error(e: io::Error) -> RuntimeError {
    if path::is_escape(&e) {
        return RuntimeError::Denied(PathError::Escapes(String::new()).to_string());
    }
    if beneath::is_swapped(&e) {
        return RuntimeError::Denied(
            "the path changed after it was decided (a symbolic link appeared on it)".into(),
        );
    }
    match e.kind() {
        io::ErrorKind::NotFound => RuntimeError::NotFound,
        io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory
        | io::ErrorKind::DirectoryNotEmpty
        | io::ErrorKind::AlreadyExists
        | io::ErrorKind::InvalidInput => RuntimeError::Invalid(e.to_string()),
        _ => RuntimeError::Io(e.to_string()),
    }
}

impl Host for CallCtx {
    async fn read(&mut self, path: String) -> wasmtime::Result<R<Vec<u8>>> {
        Ok(self.fs_read(&path))
    }

    async fn write(&mut self, path: String, contents: Vec<u8>) -> wasmtime::Result<R<()>> {
        Ok(self.fs_write(&path, &contents).await)
    }

    async fn list(&mut self, path: String) -> wasmtime::Result<R<Vec<DirEntry>>> {
        Ok(self.fs_list(&path))
    }

    async fn delete(&mut self, path: String) -> wasmtime::Result<R<()>> {
        Ok(self.fs_delete(&path).await)
    }

    async fn stat(&mut self, path: String) -> wasmtime::Result<R<WitMetadata>> {
        Ok(self.fs_stat(&path))
    }
}
