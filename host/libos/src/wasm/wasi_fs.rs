//! `wasi:filesystem` decided per operation.
//!
//! The working directory is preopened as `.` whenever the call holds any `fs.*` capability;
//! nothing is granted by the preopen itself. Every operation that names a path (open-at,
//! stat-at, readlink-at, read-directory, create-directory-at, unlink-file-at,
//! remove-directory-at, rename-at, symlink-at, link-at, set-times-at, metadata-hash-at) is
//! decided by [`CallCtx::fs_target`], the check of `libos:runtime/fs`, on the path relative to
//! the working directory (each directory descriptor's path is kept), and done through
//! [`beneath`] on exactly the decided path. Opening decides `fs.read`, or `fs.write` when it
//! writes, creates or truncates; removing a name (unlink-file-at, remove-directory-at, the
//! old name of rename-at) decides `fs.delete`, like `libos:runtime/fs.delete`; every other
//! mutation by name decides `fs.write` (a hard link `fs.read` and `fs.write` on its source
//! too, since it gives the source a second name).
//! Every mutation by name, and every open that may write, waits until the record of its
//! decision is stored before it happens (`CallCtx::record_stored`; `io` when it cannot be).
//! A refusal reaches the guest as `access`, never a trap. Writes through an opened file are
//! charged to the call's meter before they happen, and refused (`io`) while the audit log
//! cannot be written, like every decision. What names no path (reading, writing,
//! seeking, stat of an open descriptor) is delegated to wasmtime-wasi.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{FileType, Timespec, Timestamps};
use wasmtime::component::Resource;
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::filesystem::{Descriptor, Dir, File, OpenMode, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, DescriptorFlags, ErrorCode, HostDescriptor, HostDirectoryEntryStream, NewTimestamp,
    OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{FsError, FsResult};
use wasmtime_wasi_io::streams::DynOutputStream;

use crate::approval::Plain;
use crate::bindings::RuntimeError;
use crate::bindings::libos::runtime::types::LimitKind as WitLimit;
use crate::call::digest;
use crate::permit::Permit;
use crate::primitives::beneath;
use crate::wasm::mediated::Mediated;
use crate::wasm::metered::MeteredStream;

/// The guest's error for a refused or failed decision.
fn refused(e: RuntimeError) -> FsError {
    match e {
        RuntimeError::Denied(_) | RuntimeError::NeedsApproval(_) => ErrorCode::Access,
        RuntimeError::NotFound => ErrorCode::NoEntry,
        RuntimeError::Invalid(_) => ErrorCode::Invalid,
        RuntimeError::LimitExceeded(WitLimit::BytesWritten) => ErrorCode::InsufficientSpace,
        RuntimeError::LimitExceeded(_) | RuntimeError::Io(_) => ErrorCode::Io,
    }
    .into()
}

/// The guest's error for a failed file operation; a walk that would leave the directory is
/// `access`.
fn failed(e: io::Error) -> FsError {
    if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) {
        return ErrorCode::Access.into();
    }
    ErrorCode::from(&e).into()
}

fn timespec(t: NewTimestamp) -> Result<Timespec, FsError> {
    Ok(match t {
        NewTimestamp::NoChange => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        NewTimestamp::Now => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        NewTimestamp::Timestamp(d) => {
            if d.nanoseconds >= 1_000_000_000 {
                return Err(ErrorCode::Invalid.into());
            }
            Timespec {
                tv_sec: i64::try_from(d.seconds).map_err(|_| ErrorCode::Overflow)?,
                tv_nsec: d.nanoseconds.into(),
            }
        }
    })
}

impl Mediated<'_> {
    /// The path, relative to the working directory, of the directory descriptor `fd`.
    fn base(&mut self, fd: &Resource<Descriptor>) -> FsResult<String> {
        if let Some(base) = self.cx.wasi_dirs.get(&fd.rep()) {
            return Ok(base.clone());
        }
        match self.cx.table.get(fd)? {
            Descriptor::File(_) => Err(ErrorCode::NotDirectory.into()),
            Descriptor::Dir(_) => Err(ErrorCode::BadDescriptor.into()),
        }
    }

    /// Decides `action` on `path` relative to the directory `fd` (see `CallCtx::fs_target`)
    /// and returns the decided path relative to the working directory.
    fn target(
        &mut self,
        fd: &Resource<Descriptor>,
        action: &'static str,
        path: &str,
        follow: bool,
    ) -> FsResult<(String, Permit)> {
        let base = self.base(fd)?;
        let d = digest(&[action.as_bytes(), base.as_bytes(), path.as_bytes()]);
        self.cx
            .fs_target(Some(&base), action, path, follow, &d, &Plain(action))
            .map_err(refused)
    }

    /// Runs `op` on the working directory's descriptor under the `permits` decided for it:
    /// kept if it succeeds, given back (dropped) if it fails.
    fn act<R>(
        &mut self,
        permits: impl IntoIterator<Item = Permit>,
        op: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> io::Result<R>,
    ) -> FsResult<R> {
        let out = match self.cx.root_fd() {
            Ok(root) => op(root).map_err(failed)?,
            Err(e) => return Err(refused(e)),
        };
        for permit in permits {
            permit.done(None);
        }
        Ok(out)
    }

    /// [`Mediated::act`] for an effect: first waits until the records of the `permits` are
    /// stored (`CallCtx::record_stored`); if they cannot be, nothing is done (`io`).
    async fn effect<R>(
        &mut self,
        permits: impl IntoIterator<Item = Permit>,
        op: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> io::Result<R>,
    ) -> FsResult<R> {
        self.cx.record_stored().await.map_err(refused)?;
        self.act(permits, op)
    }

    /// Pushes a descriptor of `fd` (a directory at `path`, or a file) to the table.
    fn push(
        &mut self,
        fd: OwnedFd,
        path: String,
        perms: FsPerms,
        mode: OpenMode,
    ) -> FsResult<Resource<Descriptor>> {
        let stat = rustix::fs::fstat(&fd).map_err(|e| failed(e.into()))?;
        let file = std::fs::File::from(fd);
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => {
                let dir = Descriptor::Dir(Dir::new(file, FsPerms::ReadWrite, mode, false));
                let res = self.cx.table.push(dir)?;
                self.cx.wasi_dirs.insert(res.rep(), path);
                Ok(res)
            }
            FileType::RegularFile | FileType::Symlink => Ok(self
                .cx
                .table
                .push(Descriptor::File(File::new(file, perms, mode, false)))?),
            // A FIFO, a device or a socket: refused, never read (it could block the host).
            _ => Err(ErrorCode::Access.into()),
        }
    }

    /// A descriptor naming `path` without following it (`O_PATH`), for a delegated
    /// operation that reads only its metadata; [`Mediated::close`] it after.
    fn open_meta(&mut self, permit: Permit, path: &str) -> FsResult<u32> {
        let fd = self.act([permit], |root| beneath::open_path(root, path))?;
        let res = self.push(fd, path.to_owned(), FsPerms::ReadOnly, OpenMode::READ)?;
        Ok(res.rep())
    }

    /// Removes a descriptor the host opened for itself.
    fn close(&mut self, rep: u32) -> Result<(), wasmtime::component::ResourceTableError> {
        self.cx.wasi_dirs.remove(&rep);
        self.cx.table.delete(Resource::<Descriptor>::new_own(rep))?;
        Ok(())
    }

    /// Charges `len` bytes written to the call's meter.
    fn charge(&mut self, len: u64) -> FsResult<()> {
        match &self.cx.meter {
            Some(meter) => meter
                .charge(crate::error::LimitKind::BytesWritten, len)
                .map_err(|_| ErrorCode::InsufficientSpace.into()),
            None => Ok(()),
        }
    }

    /// Whether `fd` is a file whose writes would be let through.
    fn writable_file(&mut self, fd: &Resource<Descriptor>) -> FsResult<Option<u64>> {
        match self.cx.table.get(fd)? {
            Descriptor::File(f) if !f.perms.write_not_permitted() => {
                Ok(Some(f.file.metadata().map(|m| m.len()).unwrap_or(0)))
            }
            _ => Ok(None),
        }
    }

    /// Wraps a file's new output stream so that its writes are charged, and refused while the
    /// audit log cannot be written.
    fn metered(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.cx.table.delete(stream)?;
        let wrapped: DynOutputStream = Box::new(MeteredStream::new(
            inner,
            self.cx.meter.clone(),
            std::sync::Arc::clone(self.cx.authority.authority()),
        ));
        Ok(self.cx.table.push(wrapped)?)
    }

    /// `io` while the audit log cannot be written: a change through an open descriptor (its
    /// open decided and recorded) is refused then, as every primitive is.
    fn refuse_while_unrecorded(&self) -> FsResult<()> {
        match self.cx.authority.audit_failing() {
            Some(_) => Err(ErrorCode::Io.into()),
            None => Ok(()),
        }
    }
}

impl preopens::Host for Mediated<'_> {
    /// The caller's current directory (the working directory itself, or the directory in it
    /// a process was started in) as `.`, when the call holds any `fs.*` capability. Paths
    /// through it are decided relative to the working directory.
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        if !self.cx.wasi_fs {
            return Ok(Vec::new());
        }
        let Ok(root) = self.cx.root_fd() else {
            return Ok(Vec::new());
        };
        let cwd = self.cx.cwd.to_string();
        let file: std::fs::File = if cwd.is_empty() {
            root.try_clone_to_owned()?.into()
        } else {
            match crate::primitives::beneath::open_dir(root, &cwd) {
                Ok(fd) => fd.into(),
                // Gone or swapped for a link since the process started: no preopen.
                Err(_) => return Ok(Vec::new()),
            }
        };
        let dir = Descriptor::Dir(Dir::new(
            file,
            FsPerms::ReadWrite,
            OpenMode::READ | OpenMode::WRITE,
            false,
        ));
        let res = self.cx.table.push(dir)?;
        self.cx.wasi_dirs.insert(res.rep(), cwd);
        Ok(vec![(res, ".".to_string())])
    }
}

impl types::Host for Mediated<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.cx.filesystem(), err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.cx.filesystem(), err)
    }
}

impl HostDirectoryEntryStream for Mediated<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        HostDirectoryEntryStream::read_directory_entry(&mut self.cx.filesystem(), stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.cx.filesystem(), stream)
    }
}

impl HostDescriptor for Mediated<'_> {
    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> FsResult<()> {
        HostDescriptor::advise(&mut self.cx.filesystem(), fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync_data(&mut self.cx.filesystem(), fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<DescriptorFlags> {
        HostDescriptor::get_flags(&mut self.cx.filesystem(), fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorType> {
        HostDescriptor::get_type(&mut self.cx.filesystem(), fd).await
    }

    /// Growing a file is charged as bytes written.
    async fn set_size(&mut self, fd: Resource<Descriptor>, size: types::Filesize) -> FsResult<()> {
        self.refuse_while_unrecorded()?;
        if let Some(len) = self.writable_file(&fd)?
            && size > len
        {
            self.charge(size - len)?;
        }
        HostDescriptor::set_size(&mut self.cx.filesystem(), fd, size).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        // A directory's times are changed by its path (a file's need it opened for writing).
        if self.cx.wasi_dirs.contains_key(&fd.rep()) {
            let (p, permit) = self.target(&fd, "fs.write", ".", true)?;
            let times = Timestamps {
                last_access: timespec(atim)?,
                last_modification: timespec(mtim)?,
            };
            return self
                .effect([permit], |root| beneath::set_times(root, &p, &times))
                .await;
        }
        self.refuse_while_unrecorded()?;
        HostDescriptor::set_times(&mut self.cx.filesystem(), fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        HostDescriptor::read(&mut self.cx.filesystem(), fd, len, offset).await
    }

    /// Charged as bytes written before it happens.
    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        buf: Vec<u8>,
        offset: types::Filesize,
    ) -> FsResult<types::Filesize> {
        self.refuse_while_unrecorded()?;
        if self.writable_file(&fd)?.is_some() {
            self.charge(u64::try_from(buf.len()).unwrap_or(u64::MAX))?;
        }
        HostDescriptor::write(&mut self.cx.filesystem(), fd, buf, offset).await
    }

    /// Decided as `fs.read` on the directory's path, and read from that path.
    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        let (p, permit) = self.target(&fd, "fs.read", ".", true)?;
        let dir = self.act([permit], |root| beneath::open_dir(root, &p))?;
        let res = self.push(dir, p, FsPerms::ReadOnly, OpenMode::READ)?;
        let rep = res.rep();
        let out = HostDescriptor::read_directory(&mut self.cx.filesystem(), res).await;
        self.close(rep)?;
        out
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync(&mut self.cx.filesystem(), fd).await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let (p, permit) = self.target(&fd, "fs.write", &path, false)?;
        self.effect([permit], |root| beneath::mkdir(root, &p)).await
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat(&mut self.cx.filesystem(), fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
        let (p, permit) = self.target(&fd, "fs.read", &path, follow)?;
        let rep = self.open_meta(permit, &p)?;
        let out = HostDescriptor::stat(&mut self.cx.filesystem(), Resource::new_own(rep)).await;
        self.close(rep)?;
        out
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        let times = Timestamps {
            last_access: timespec(atim)?,
            last_modification: timespec(mtim)?,
        };
        let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
        let (p, permit) = self.target(&fd, "fs.write", &path, follow)?;
        self.effect([permit], |root| beneath::set_times(root, &p, &times))
            .await
    }

    /// A hard link gives its source a second name decided apart from the first: it needs
    /// `fs.read` and `fs.write` on the source and `fs.write` on the new name.
    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let follow = old_path_flags.contains(PathFlags::SYMLINK_FOLLOW);
        let (_, read) = self.target(&fd, "fs.read", &old_path, follow)?;
        let (from, named) = self.target(&fd, "fs.write", &old_path, follow)?;
        let (to, named_again) = self.target(&new_descriptor, "fs.write", &new_path, false)?;
        self.effect([read, named, named_again], |root| {
            beneath::link(root, &from, &to)
        })
        .await
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        use rustix::fs::OFlags;
        if flags.intersects(
            DescriptorFlags::FILE_INTEGRITY_SYNC
                | DescriptorFlags::DATA_INTEGRITY_SYNC
                | DescriptorFlags::REQUESTED_WRITE_SYNC,
        ) {
            return Err(ErrorCode::Unsupported.into());
        }
        if oflags.contains(OpenFlags::DIRECTORY)
            && oflags.intersects(OpenFlags::CREATE | OpenFlags::EXCLUSIVE | OpenFlags::TRUNCATE)
        {
            return Err(ErrorCode::Invalid.into());
        }
        let writes = flags.contains(DescriptorFlags::WRITE)
            || oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE);
        let reads = flags.contains(DescriptorFlags::READ) || !writes;
        let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
        let action = if writes { "fs.write" } else { "fs.read" };
        let (p, permit) = self.target(&fd, action, &path, follow)?;

        let mut o = match (reads, writes) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            _ => OFlags::RDONLY,
        };
        let mut mode = OpenMode::empty();
        if reads {
            mode |= OpenMode::READ;
        }
        if writes {
            mode |= OpenMode::WRITE;
        }
        if oflags.contains(OpenFlags::CREATE) {
            o |= OFlags::CREATE;
            if oflags.contains(OpenFlags::EXCLUSIVE) {
                o |= OFlags::EXCL;
            }
        }
        if oflags.contains(OpenFlags::TRUNCATE) {
            o |= OFlags::TRUNC;
        }
        if oflags.contains(OpenFlags::DIRECTORY) {
            o |= OFlags::DIRECTORY;
        }
        if !follow {
            o |= OFlags::NOFOLLOW;
        }
        // A regular file with more than one hard link is refused (`access`), as by the fs
        // primitive: another of its names may be ungranted. Looked at before the open (which
        // may truncate) and on the opened file.
        let linked = |st: &rustix::fs::Stat| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
                && st.st_nlink > 1
        };
        // Opening to write is the effect decided: every write through the descriptor is
        // covered by this record, stored before the open.
        if writes {
            self.cx.record_stored().await.map_err(refused)?;
        }
        let opened = self.act([permit], |root| {
            let refuse = || io::Error::from_raw_os_error(libc::EACCES);
            if beneath::stat(root, &p).is_ok_and(|st| linked(&st)) {
                return Err(refuse());
            }
            let fd = beneath::open(root, &p, o, 0o666)?;
            if rustix::fs::fstat(&fd).is_ok_and(|st| linked(&st)) {
                return Err(refuse());
            }
            Ok(fd)
        })?;
        let perms = if writes {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        self.push(opened, p, perms, mode)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.cx.wasi_dirs.remove(&fd.rep());
        HostDescriptor::drop(&mut self.cx.filesystem(), fd)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let (p, permit) = self.target(&fd, "fs.read", &path, false)?;
        let target = self.act([permit], |root| beneath::readlink(root, &p))?;
        String::from_utf8(target).map_err(|_| ErrorCode::IllegalByteSequence.into())
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let (p, permit) = self.target(&fd, "fs.delete", &path, false)?;
        self.cx
            .refuse_above_reserved("fs.delete", &p)
            .map_err(refused)?;
        self.effect([permit], |root| beneath::rmdir(root, &p)).await
    }

    /// Decided as `fs.delete` and `fs.read` on the old name (it disappears, and what it held
    /// can be read under the new one) and `fs.write` on the new one; a directory's entries are
    /// checked too (`primitives/moves.rs`), and nothing holding the state directory moves.
    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (from, removed) = self.target(&fd, "fs.delete", &old_path, false)?;
        let (_, read) = self.target(&fd, "fs.read", &old_path, false)?;
        let (to, written) = self.target(&new_fd, "fs.write", &new_path, false)?;
        self.cx
            .refuse_above_reserved("fs.delete", &from)
            .map_err(refused)?;
        self.cx
            .refuse_above_reserved("fs.write", &to)
            .map_err(refused)?;
        self.cx.check_moved_tree(&from, &to).map_err(refused)?;
        self.effect([removed, read, written], |root| {
            beneath::rename(root, &from, &to)
        })
        .await
    }

    /// Decided as `fs.write` on the new link; its target text must stay inside the working
    /// directory (a link is followed only inside it anyway, and decided on where it leads).
    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        let (p, permit) = self.target(&fd, "fs.write", &dest_path, false)?;
        let parent = p.rsplit_once('/').map_or("", |(parent, _)| parent);
        let lands = if parent.is_empty() {
            src_path.clone()
        } else {
            format!("{parent}/{src_path}")
        };
        if src_path.starts_with('/') || crate::primitives::path::normalize(&lands).is_err() {
            drop(permit);
            return Err(ErrorCode::NotPermitted.into());
        }
        self.effect([permit], |root| beneath::symlink(root, &src_path, &p))
            .await
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let (p, permit) = self.target(&fd, "fs.delete", &path, false)?;
        self.cx
            .refuse_above_reserved("fs.delete", &p)
            .map_err(refused)?;
        self.effect([permit], |root| beneath::unlink(root, &p))
            .await
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<wasmtime_wasi_io::streams::DynInputStream>> {
        HostDescriptor::read_via_stream(&mut self.cx.filesystem(), fd, offset)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = HostDescriptor::write_via_stream(&mut self.cx.filesystem(), fd, offset)?;
        self.metered(stream)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = HostDescriptor::append_via_stream(&mut self.cx.filesystem(), fd)?;
        self.metered(stream)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        HostDescriptor::is_same_object(&mut self.cx.filesystem(), a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash(&mut self.cx.filesystem(), fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        let follow = path_flags.contains(PathFlags::SYMLINK_FOLLOW);
        let (p, permit) = self.target(&fd, "fs.read", &path, follow)?;
        let rep = self.open_meta(permit, &p)?;
        let out =
            HostDescriptor::metadata_hash(&mut self.cx.filesystem(), Resource::new_own(rep)).await;
        self.close(rep)?;
        out
    }
}
