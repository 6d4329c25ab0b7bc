//! Acting on a decided path without following any link after the decision.
//!
//! Every function takes the working directory's descriptor and a path relative to it that
//! has already been normalized, resolved and decided (see `CallCtx::fs_target`). The path is
//! walked by the kernel with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`: a component that became a symbolic link since the decision, or a
//! `..` leading out, makes the call fail (`ELOOP`, `EXDEV`) instead of reaching another file.
//! Operations on a name (unlink, rename, mkdir, stat, readlink, symlink, link, set times)
//! open the parent that way and then use the `*at` call on the last name, never following it.
//! Files are opened non-blocking and checked with `fstat` on the opened descriptor, so a FIFO
//! or a device is refused without blocking and without a stat-then-open race.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, Timestamps};

/// How often an open is retried when the kernel reports a concurrent rename (`EAGAIN`).
const RETRIES: usize = 8;

/// The resolution every walk uses: inside the directory, no links of any kind.
fn resolve() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// `"."` for the directory itself, the path otherwise.
fn or_dot(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

/// Opens `rel` under `root` with `flags` (plus close-on-exec, non-blocking and no
/// controlling terminal) and `mode` for a created file (ignored without `O_CREAT`),
/// following no link on the way.
pub fn open(root: BorrowedFd<'_>, rel: &str, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    // `openat2` refuses `O_PATH` with any flag but a few (close-on-exec among them).
    let flags = if flags.contains(OFlags::PATH) {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY
    };
    // `openat2` refuses a mode without a file to create.
    let mode = if flags.contains(OFlags::CREATE) {
        Mode::from_raw_mode(mode)
    } else {
        Mode::empty()
    };
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root, or_dot(rel), flags, mode, resolve()) {
            Err(rustix::io::Errno::AGAIN) if tries < RETRIES => tries += 1,
            Err(rustix::io::Errno::INTR) => {}
            other => return other.map_err(io::Error::from),
        }
    }
}

/// Opens the directory `rel` (the working directory itself for `""`) for reading entries.
pub fn open_dir(root: BorrowedFd<'_>, rel: &str) -> io::Result<OwnedFd> {
    open(root, rel, OFlags::RDONLY | OFlags::DIRECTORY, 0)
}

/// What a path names, without following it: a descriptor usable with `fstat` only
/// (`O_PATH | O_NOFOLLOW`), which names the link itself when `rel` is a symbolic link.
pub fn open_path(root: BorrowedFd<'_>, rel: &str) -> io::Result<OwnedFd> {
    open(root, rel, OFlags::PATH | OFlags::NOFOLLOW, 0)
}

/// Opens the regular file `rel` for reading; anything else (directory, FIFO, device,
/// socket), and a file with more than one hard link, is refused as `InvalidInput` after
/// `fstat` on the opened descriptor.
pub fn open_regular(root: BorrowedFd<'_>, rel: &str) -> io::Result<File> {
    let fd = open(root, rel, OFlags::RDONLY | OFlags::NOFOLLOW, 0)?;
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if stat.st_nlink > 1 {
        // Another name may lie outside what was decided on: its content is not read.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a file with {} hard links is not read (another name of it may be ungranted)",
                stat.st_nlink
            ),
        ));
    }
    Ok(File::from(fd))
}

/// Splits a non-empty relative path into its parent (`""` for the top) and last name.
fn split(rel: &str) -> io::Result<(&str, &str)> {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    if name.is_empty() || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no entry of a directory",
        ));
    }
    Ok((parent, name))
}

/// The directory a name is looked up in: the working directory itself, or one opened under
/// it.
pub enum Parent<'a> {
    /// The working directory (a name at the top needs no walk).
    Root(BorrowedFd<'a>),
    /// A directory opened beneath it.
    Opened(OwnedFd),
}

impl AsFd for Parent<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Parent::Root(fd) => *fd,
            Parent::Opened(fd) => fd.as_fd(),
        }
    }
}

/// Opens the parent directory of `rel` (following no link) and returns it with the last name.
pub fn parent<'a, 'r>(root: BorrowedFd<'r>, rel: &'a str) -> io::Result<(Parent<'r>, &'a str)> {
    let (parent, name) = split(rel)?;
    if parent.is_empty() {
        return Ok((Parent::Root(root), name));
    }
    Ok((Parent::Opened(open_dir(root, parent)?), name))
}

/// `lstat` of `rel`: the link itself when it is one.
pub fn stat(root: BorrowedFd<'_>, rel: &str) -> io::Result<Stat> {
    if rel.is_empty() {
        return Ok(rustix::fs::fstat(root)?);
    }
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
}

/// Removes the file (or symbolic link) `rel`.
pub fn unlink(root: BorrowedFd<'_>, rel: &str) -> io::Result<()> {
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::unlinkat(&dir, name, AtFlags::empty())?)
}

/// Removes the empty directory `rel`.
pub fn rmdir(root: BorrowedFd<'_>, rel: &str) -> io::Result<()> {
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR)?)
}

/// Creates the directory `rel`.
pub fn mkdir(root: BorrowedFd<'_>, rel: &str) -> io::Result<()> {
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o777))?)
}

/// Renames `from` to `to` (replacing `to` as `rename(2)` does).
pub fn rename(root: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    let (from_dir, from_name) = parent(root, from)?;
    let (to_dir, to_name) = parent(root, to)?;
    Ok(rustix::fs::renameat(
        &from_dir, from_name, &to_dir, to_name,
    )?)
}

/// The target text of the symbolic link `rel`.
pub fn readlink(root: BorrowedFd<'_>, rel: &str) -> io::Result<Vec<u8>> {
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::readlinkat(&dir, name, Vec::new())?.into_bytes())
}

/// Creates the symbolic link `rel` whose target text is `target`.
pub fn symlink(root: BorrowedFd<'_>, target: &str, rel: &str) -> io::Result<()> {
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::symlinkat(target, &dir, name)?)
}

/// Creates the hard link `to` of `from` (the link itself when `from` is one).
pub fn link(root: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    let (from_dir, from_name) = parent(root, from)?;
    let (to_dir, to_name) = parent(root, to)?;
    Ok(rustix::fs::linkat(
        &from_dir,
        from_name,
        &to_dir,
        to_name,
        AtFlags::empty(),
    )?)
}

/// Sets the access and modification times of `rel` (of the link itself when it is one).
pub fn set_times(root: BorrowedFd<'_>, rel: &str, times: &Timestamps) -> io::Result<()> {
    if rel.is_empty() {
        return Ok(rustix::fs::futimens(root, times)?);
    }
    let (dir, name) = parent(root, rel)?;
    Ok(rustix::fs::utimensat(
        &dir,
        name,
        times,
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Distinguishes the temporary files of concurrent writes in one host.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Replaces the file `rel` with `contents` atomically, keeping what the file was: its
/// permission bits (never a set-uid, set-gid or sticky bit) and, where the host may, its
/// owner. The new contents are written to an unnamed file (`O_TMPFILE`) in the parent
/// directory's descriptor, synced, and given a name only then: the file's own name when
/// nothing has it, else a temporary name in the working directory's root
/// ([`TMP_PREFIX`]`PID-N`) renamed over the old file at once. A kill between those two calls
/// leaves the temporary file in the root, where the next host to open the working directory
/// removes it ([`sweep_temporaries`]); a file on another file system than the root gets its
/// temporary name beside it instead, and so does every write on a file system without
/// unnamed files (`.NAME.libos-tmp-PID-N`, not swept). A symbolic link at `rel` is replaced,
/// not followed; a directory there is an error; a FIFO, socket or device is refused, never
/// replaced; a file with more than one hard link is refused (`InvalidInput`): replacing it
/// would split the links, writing through it would change the other names' file.
pub fn atomic_write(root: BorrowedFd<'_>, rel: &str, contents: &[u8]) -> io::Result<()> {
    let (dir, name) = parent(root, rel)?;
    let found = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW);
    let absent = matches!(found, Err(rustix::io::Errno::NOENT));
    // A FIFO, a socket or a device is something else's: it is not replaced by a file.
    if let Ok(st) = &found
        && !matches!(
            FileType::from_raw_mode(st.st_mode),
            FileType::RegularFile | FileType::Symlink | FileType::Directory
        )
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel}: not a regular file; it is not replaced"),
        ));
    }
    let existing = match found {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => Some(st),
        _ => None,
    };
    if let Some(st) = &existing
        && st.st_nlink > 1
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{rel}: a file with {} hard links is not written (it would split them)",
                st.st_nlink
            ),
        ));
    }
    let mode = existing.as_ref().map_or(0o666, |st| st.st_mode & 0o777);
    let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp_in_root = format!("{TMP_PREFIX}{}-{seq}", std::process::id());
    let tmp_beside = format!(".{name}.libos-tmp-{}-{seq}", std::process::id());
    // Fills `fd` (mode and owner as the file had them), synced.
    let fill = |fd: &OwnedFd| -> io::Result<()> {
        if let Some(st) = &existing {
            // The mode asked for at creation is narrowed by the umask; the file's is kept.
            rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
            // Only a host allowed to give files away can; otherwise the writer owns it.
            let _ = rustix::fs::fchown(
                fd,
                Some(rustix::fs::Uid::from_raw(st.st_uid)),
                Some(rustix::fs::Gid::from_raw(st.st_gid)),
            );
        }
        let mut file = File::from(fd.try_clone()?);
        file.write_all(contents)?;
        file.sync_all()
    };
    let unnamed = rustix::fs::openat(
        &dir,
        ".",
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    );
    let Ok(fd) = unnamed else {
        return named_temporary_write(dir.as_fd(), name, &tmp_beside, mode, &fill);
    };
    fill(&fd)?;
    // Named through /proc (linking a descriptor by itself needs a capability).
    let path = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    let link = |at: BorrowedFd<'_>, to: &str| {
        rustix::fs::linkat(
            rustix::fs::CWD,
            path.as_str(),
            at,
            to,
            AtFlags::SYMLINK_FOLLOW,
        )
    };
    // A new file gets its name directly: no temporary name ever exists.
    if absent {
        match link(dir.as_fd(), name) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Replacing needs a name to rename from: one in the working directory's root, where the
    // next host to open it removes what a killed writer left (`sweep_temporaries`); beside
    // the file when it lies on another file system than the root.
    let (at, tmp) = match link(root, &tmp_in_root) {
        Ok(()) => (root, tmp_in_root.as_str()),
        Err(rustix::io::Errno::XDEV) => {
            link(dir.as_fd(), &tmp_beside)?;
            (dir.as_fd(), tmp_beside.as_str())
        }
        Err(e) => return Err(e.into()),
    };
    let renamed = rustix::fs::renameat(at, tmp, &dir, name);
    if renamed.is_err() {
        let _ = rustix::fs::unlinkat(at, tmp, AtFlags::empty());
    }
    Ok(renamed?)
}

/// [`atomic_write`] where the file system has no unnamed files (or there is no `/proc`): the
/// contents go to the named temporary file `tmp` beside the file, which is then renamed over
/// it (an interrupted write can leave `tmp`).
fn named_temporary_write(
    dir: BorrowedFd<'_>,
    name: &str,
    tmp: &str,
    mode: u32,
    fill: &dyn Fn(&OwnedFd) -> io::Result<()>,
) -> io::Result<()> {
    let _ = rustix::fs::unlinkat(dir, tmp, AtFlags::empty());
    let result = (|| {
        let fd = rustix::fs::openat(
            dir,
            tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        fill(&fd)?;
        Ok(rustix::fs::renameat(dir, tmp, dir, name)?)
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, tmp, AtFlags::empty());
    }
    result
}

/// The start of the name of a temporary file [`atomic_write`] leaves in the working
/// directory's root while it replaces a file: `.libos-tmp-PID-N`.
pub const TMP_PREFIX: &str = ".libos-tmp-";

/// The writer's pid when `name` is exactly a temporary name of [`atomic_write`]
/// (`.libos-tmp-PID-N`, both all digits): nothing else is taken for one.
pub fn temporary_of(name: &str) -> Option<i32> {
    let (pid, seq) = name.strip_prefix(TMP_PREFIX)?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(seq) {
        return None;
    }
    pid.parse().ok()
}

/// Removes from the working directory's root the temporary files of writers that are gone
/// (a host killed between naming a replacement and renaming it over the file): those whose
/// process no longer exists. Called when a host first opens a working directory. Returns how
/// many were removed; failures are skipped (a temporary file is never anyone's data).
pub fn sweep_temporaries(root: BorrowedFd<'_>) -> usize {
    let Ok(dir) = rustix::fs::openat(
        root,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return 0;
    };
    let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) else {
        return 0;
    };
    let mut removed = 0;
    while let Some(Ok(entry)) = entries.next() {
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        let Some(pid) = temporary_of(name) else {
            continue;
        };
        let alive = pid == std::process::id() as i32
            || std::path::Path::new(&format!("/proc/{pid}")).exists();
        let regular = rustix::fs::statat(root, name, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile);
        if !alive && regular && rustix::fs::unlinkat(root, name, AtFlags::empty()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The working directory's descriptor of a cap-std directory.
pub fn fd_of(dir: &cap_std::fs::Dir) -> BorrowedFd<'_> {
    dir.as_fd()
}

/// Whether an error means the path changed under the call: a link where a directory or file
/// was decided (`ELOOP`), or a walk leaving the directory (`EXDEV`).
pub fn is_swapped(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error()
            || code == rustix::io::Errno::XDEV.raw_os_error()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> (tempfile::TempDir, File) {
        let t = tempfile::tempdir().unwrap();
        let root = File::open(t.path()).unwrap();
        (t, root)
    }

    #[test]
    fn refuses_links_and_escapes_and_acts_on_plain_paths() {
        let (t, root) = tmp();
        let root_fd = root.as_fd();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/f"), b"ok").unwrap();
        std::os::unix::fs::symlink("d", t.path().join("l")).unwrap();
        std::os::unix::fs::symlink("f", t.path().join("d/lf")).unwrap();

        let mut s = String::new();
        use std::io::Read;
        open_regular(root_fd, "d/f")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "ok");
        assert!(is_swapped(&open_regular(root_fd, "l/f").unwrap_err()));
        assert!(is_swapped(&open_regular(root_fd, "d/lf").unwrap_err()));
        assert!(is_swapped(&open_regular(root_fd, "../x").unwrap_err()));
        assert!(open_regular(root_fd, "d").is_err());
        // The link itself is named, not followed.
        let named = rustix::fs::fstat(open_path(root_fd, "d/lf").unwrap()).unwrap();
        assert_eq!(FileType::from_raw_mode(named.st_mode), FileType::Symlink);
        let st = stat(root_fd, "d/lf").unwrap();
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::Symlink);
        assert_eq!(readlink(root_fd, "d/lf").unwrap(), b"f");

        atomic_write(root_fd, "d/lf", b"new").unwrap();
        assert_eq!(std::fs::read(t.path().join("d/f")).unwrap(), b"ok");
        assert_eq!(std::fs::read(t.path().join("d/lf")).unwrap(), b"new");
        assert!(atomic_write(root_fd, "l/g", b"x").is_err());
        assert!(!t.path().join("d/g").exists());

        rename(root_fd, "d/lf", "d/moved").unwrap();
        assert_eq!(std::fs::read(t.path().join("d/moved")).unwrap(), b"new");
        unlink(root_fd, "d/moved").unwrap();
        assert!(!t.path().join("d/moved").exists());
        mkdir(root_fd, "d/sub").unwrap();
        rmdir(root_fd, "d/sub").unwrap();
        assert!(!t.path().join("d/sub").exists());
        assert!(unlink(root_fd, "l").is_ok(), "the link itself is removed");
        assert!(t.path().join("d/f").exists());
    }

    #[test]
    fn refuses_a_fifo_without_blocking() {
        let (t, root) = tmp();
        rustix::fs::mknodat(
            root.as_fd(),
            "fifo",
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = open_regular(root.as_fd(), "fifo").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(t.path().join("fifo").exists());
    }
}
