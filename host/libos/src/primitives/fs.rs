//! `libos:runtime/fs`: files in the caller's working directory.
//!
//! Every call: normalize the path (escapes refused and audited), check `fs.<op>` on the
//! normalized path, resolve symbolic links inside the directory, check again if that changed
//! the path, then act with cap-std, which refuses anything outside the directory.

use std::io::{self, Read, Write};

use cap_std::fs::{Dir, FileType, Metadata};

use crate::approval::{Describe, Plain};
use crate::bindings::RuntimeError;
use crate::bindings::libos::runtime::fs::{DirEntry, EntryKind, Host, Metadata as WitMetadata};
use crate::bindings::libos::runtime::types::{Datetime, LimitKind};
use crate::call::{CallCtx, digest};
use crate::primitives::path::{self, PathError};
use crate::primitives::write_preview::{WriteOf, version_of};

type R<T> = Result<T, RuntimeError>;

impl CallCtx {
    /// Validates `raw`, authorizes `action` on it, and returns the relative path to touch.
    /// Both the path as given and the path its symbolic links lead to are decided; if the
    /// policy asks about either, the person is asked about the real target (described by
    /// `describe`), once.
    fn fs_target(
        &mut self,
        action: &str,
        raw: &str,
        follow_final: bool,
        args_digest: &[u8; 32],
        describe: &dyn Describe,
    ) -> R<String> {
        let normalized = match path::normalize(raw) {
            Ok(normalized) => normalized,
            Err(e) => return Err(self.refuse_path(action, e)),
        };
        self.refuse_reserved(action, &normalized)?;
        let first = self.decide(action, &normalized, Some(args_digest))?;
        let resolved = match path::resolve(self.dir()?, &normalized, follow_final) {
            Ok(resolved) => resolved,
            Err(e) => return Err(self.refuse_path(action, e)),
        };
        self.refuse_reserved(action, &resolved)?;
        let second = if resolved != normalized {
            self.decide(action, &resolved, Some(args_digest))?
        } else {
            None
        };
        if let Some(asking) = second.or(first) {
            self.consult_human((action, &resolved), Some(args_digest), asking, describe)?;
        }
        Ok(resolved)
    }

    /// The working directory; every file primitive is denied without one.
    fn dir(&self) -> R<&Dir> {
        self.workdir
            .as_deref()
            .ok_or_else(|| RuntimeError::Denied("the call has no working directory".into()))
    }

    fn fs_read(&mut self, raw: &str) -> R<Vec<u8>> {
        let d = digest(&[b"fs.read", raw.as_bytes()]);
        let p = self.fs_target("fs.read", raw, true, &d, &Plain("fs.read"))?;
        let dir = self.dir()?;
        // Checked before opening: opening a FIFO or a device could block the host forever.
        let meta = dir.metadata(or_dot(&p)).map_err(io_error)?;
        if !meta.is_file() {
            return Err(RuntimeError::Invalid(format!("{raw}: not a regular file")));
        }
        let file = dir.open(&p).map_err(io_error)?;
        let max = self.limits.max_io;
        if meta.len() > max as u64 {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() > max {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        Ok(bytes)
    }

    fn fs_write(&mut self, raw: &str, contents: &[u8]) -> R<()> {
        let d = digest(&[b"fs.write", raw.as_bytes(), contents]);
        if contents.len() > self.limits.max_io {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        let p = self.fs_target("fs.write", raw, true, &d, &WriteOf(contents))?;
        let written = self.fs_write_to(raw, &p, contents);
        let after = written.is_ok().then(|| version_of(contents));
        self.settle_grant(written.is_ok(), after);
        written
    }

    /// The write itself, once authorized.
    fn fs_write_to(&mut self, raw: &str, p: &str, contents: &[u8]) -> R<()> {
        let dir = self.dir()?;
        if p.is_empty() {
            return Err(RuntimeError::Invalid(
                "cannot write to the working directory itself".into(),
            ));
        }
        if let Ok(m) = dir.symlink_metadata(p)
            && m.is_dir()
        {
            return Err(RuntimeError::Invalid(format!("{raw}: is a directory")));
        }
        if let Some(meter) = &self.meter {
            let len = u64::try_from(contents.len()).unwrap_or(u64::MAX);
            meter
                .charge(crate::error::LimitKind::BytesWritten, len)
                .map_err(|kind| RuntimeError::LimitExceeded(kind.into()))?;
        }
        atomic_write(dir, p, contents).map_err(io_error)
    }

    fn fs_list(&mut self, raw: &str) -> R<Vec<DirEntry>> {
        let d = digest(&[b"fs.list", raw.as_bytes()]);
        let p = self.fs_target("fs.read", raw, true, &d, &Plain("fs.read"))?;
        let dir = self.dir()?;
        let mut entries = Vec::new();
        for entry in dir.read_dir(or_dot(&p)).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let kind = entry.file_type().map(kind_of).unwrap_or(EntryKind::Other);
            entries.push(DirEntry { name, kind });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn fs_delete(&mut self, raw: &str) -> R<()> {
        let d = digest(&[b"fs.delete", raw.as_bytes()]);
        let p = self.fs_target("fs.delete", raw, false, &d, &Plain("fs.delete"))?;
        let dir = self.dir()?;
        if p.is_empty() {
            return Err(RuntimeError::Invalid(
                "cannot delete the working directory itself".into(),
            ));
        }
        let meta = dir.symlink_metadata(&p).map_err(io_error)?;
        if meta.is_dir() {
            dir.remove_dir(&p).map_err(io_error)
        } else {
            dir.remove_file(&p).map_err(io_error)
        }
    }

    fn fs_stat(&mut self, raw: &str) -> R<WitMetadata> {
        let d = digest(&[b"fs.stat", raw.as_bytes()]);
        let p = self.fs_target("fs.read", raw, false, &d, &Plain("fs.read"))?;
        let dir = self.dir()?;
        let meta = dir.symlink_metadata(or_dot(&p)).map_err(io_error)?;
        Ok(metadata_of(&meta))
    }
}

fn or_dot(p: &str) -> &str {
    if p.is_empty() { "." } else { p }
}

/// Writes `contents` to a temporary file next to `p`, syncs it, and renames it over `p`.
fn atomic_write(dir: &Dir, p: &str, contents: &[u8]) -> io::Result<()> {
    let (parent, name) = match p.rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, p),
    };
    let tmp_name = format!(".{name}.libos-tmp-{}", std::process::id());
    let tmp = match parent {
        Some(parent) => format!("{parent}/{tmp_name}"),
        None => tmp_name,
    };
    let result = (|| {
        let mut file = dir.create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        dir.rename(&tmp, dir, p)
    })();
    if result.is_err() {
        let _ = dir.remove_file(&tmp);
    }
    result
}

fn kind_of(t: FileType) -> EntryKind {
    if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_dir() {
        EntryKind::Directory
    } else if t.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

fn metadata_of(m: &Metadata) -> WitMetadata {
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.into_std().duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| Datetime {
            seconds: d.as_secs(),
            nanoseconds: d.subsec_nanos(),
        });
    let kind = kind_of(m.file_type());
    WitMetadata {
        kind,
        size: if kind == EntryKind::Directory {
            0
        } else {
            m.len()
        },
        modified,
    }
}

fn io_error(e: io::Error) -> RuntimeError {
    if path::is_escape(&e) {
        return RuntimeError::Denied(PathError::Escapes(String::new()).to_string());
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
    fn read(&mut self, path: String) -> wasmtime::Result<R<Vec<u8>>> {
        let out = self.fs_read(&path);
        self.settle_grant(out.is_ok(), None);
        Ok(out)
    }

    fn write(&mut self, path: String, contents: Vec<u8>) -> wasmtime::Result<R<()>> {
        Ok(self.fs_write(&path, &contents))
    }

    fn list(&mut self, path: String) -> wasmtime::Result<R<Vec<DirEntry>>> {
        let out = self.fs_list(&path);
        self.settle_grant(out.is_ok(), None);
        Ok(out)
    }

    fn delete(&mut self, path: String) -> wasmtime::Result<R<()>> {
        let out = self.fs_delete(&path);
        self.settle_grant(out.is_ok(), None);
        Ok(out)
    }

    fn stat(&mut self, path: String) -> wasmtime::Result<R<WitMetadata>> {
        let out = self.fs_stat(&path);
        self.settle_grant(out.is_ok(), None);
        Ok(out)
    }
}
