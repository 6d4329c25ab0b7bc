//! Host leases: which hosts are alive, and what happens to the processes of one that died.
//!
//! A host (a `libos` invocation running processes) holds an exclusive advisory lock (`flock`)
//! on `<hosts dir>/<host id>.lock` for as long as it lives. The operating system releases the
//! lock when the host exits in any way, `kill -9` and crashes included, so any other
//! invocation can tell a live host from a dead one at once, without heartbeats or timeouts:
//! if it can take the lock, the host is gone. Its live processes are then orphans ([`dead`]
//! lists such hosts): a host that adopts them ([`crate::ProcessTable::adopt`]) resumes each
//! from its journal, and [`recover`] marks those that cannot be resumed failed.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{KernelError, Result};
use crate::table::ProcessTable;

/// The lease of the host running in this operating-system process. Dropping it ends the
/// lease (the lock file is removed and the lock released).
#[derive(Debug)]
pub struct HostLease {
    id: String,
    path: PathBuf,
    _file: File,
}

impl HostLease {
    /// Takes a new host id and its lease in `dir` (created if needed). The id is
    /// `libos@<os pid>` for the first lease an operating-system process takes and
    /// `libos@<os pid>.<n>` for the n-th after it (several kernels in one process).
    ///
    /// An id is unique among live hosts, but an operating-system pid may be reused after a
    /// host died: rows a dead host left under the same id are its, not the new host's, and
    /// the new host should fail them at once (see [`recover`] with `own: None`).
    ///
    /// # Errors
    ///
    /// [`KernelError::Store`] if the lock file cannot be created or locked.
    pub fn acquire(dir: &Path) -> Result<HostLease> {
        Self::acquire_avoiding(dir, &[])
    }

    /// [`HostLease::acquire`], skipping the ids in `taken` (the hosts the process table still
    /// names for live processes: a dead host whose operating-system pid this one reuses
    /// leaves its orphans under its id, which must stay its).
    ///
    /// # Errors
    ///
    /// As [`HostLease::acquire`].
    pub fn acquire_avoiding(dir: &Path, taken: &[String]) -> Result<HostLease> {
        static TAKEN: AtomicU64 = AtomicU64::new(0);
        let id = loop {
            let n = TAKEN.fetch_add(1, Ordering::Relaxed);
            let id = if n == 0 {
                format!("libos@{}", std::process::id())
            } else {
                format!("libos@{}.{n}", std::process::id())
            };
            if !taken.contains(&id) {
                break id;
            }
        };
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        let path = lock_path(dir, &id);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_error(&path, &e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(KernelError::Store(format!(
                    "{}: already locked; is this host's lease taken twice?",
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(io_error(&path, &e)),
        }
        Ok(HostLease {
            id,
            path,
            _file: file,
        })
    }

    /// The host id the lease is for, as stored in the process table.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for HostLease {
    fn drop(&mut self) {
        // Unlinked while still locked: nobody can take a lock on this name in between.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `host` holds its lease in `dir`. A host id that cannot be a lock file name (the
/// table is shared, so its contents are not trusted), or whose lock file cannot be read for
/// another reason, counts as alive: recovery never fails a live host's processes by mistake.
pub fn is_alive(dir: &Path, host: &str) -> bool {
    if !valid_id(host) {
        return true;
    }
    let path = lock_path(dir, host);
    match File::open(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(_) => true,
        Ok(file) => match file.try_lock() {
            Ok(()) => false,
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(_)) => true,
        },
    }
}

/// The hosts that the table names for live processes and that no longer hold their lease in
/// `dir`: their processes are orphans, waiting to be adopted.
///
/// # Errors
///
/// [`KernelError::Store`] if the table cannot be read.
pub fn dead(table: &ProcessTable, dir: &Path) -> Result<Vec<String>> {
    Ok(table
        .live_hosts()?
        .into_iter()
        .filter(|host| !is_alive(dir, host))
        .collect())
}

/// Removes the lock file a dead `host` left in `dir` (once its processes are adopted).
pub fn forget(dir: &Path, host: &str) {
    if valid_id(host) && !is_alive(dir, host) {
        let _ = std::fs::remove_file(lock_path(dir, host));
    }
}

/// Processes of one dead host that [`recover`] marked failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The dead host.
    pub host: String,
    /// The processes it left live, now failed, by ascending pid.
    pub pids: Vec<u64>,
}

/// Marks failed every live process of every host that no longer holds its lease in `dir`,
/// and removes the dead hosts' lock files. Returns what it recovered; the reason recorded
/// names the host. `own` is the caller's lease, if it has one: its host is alive, and live
/// rows under its id made before it was taken (by a dead host whose pid it reuses) are
/// recovered with the rest. Pass `own` only before the caller creates processes.
///
/// # Errors
///
/// [`KernelError::Store`] if the table cannot be read or written.
pub fn recover(
    table: &ProcessTable,
    dir: &Path,
    own: Option<&HostLease>,
) -> Result<Vec<Recovered>> {
    let mut recovered = Vec::new();
    for host in table.live_hosts()? {
        let stale_own = own.is_some_and(|lease| lease.id == host);
        if !stale_own && is_alive(dir, &host) {
            continue;
        }
        let reason = format!("host lost: {host} ended without finishing it");
        let pids = table.fail_host(&host, &reason)?;
        if !stale_own && valid_id(&host) {
            let _ = std::fs::remove_file(lock_path(dir, &host));
        }
        if !pids.is_empty() {
            recovered.push(Recovered { host, pids });
        }
    }
    Ok(recovered)
}

fn lock_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.lock"))
}

/// A host id as [`HostLease::acquire`] makes them, and so usable as a file name: `libos@`,
/// digits, and optionally a dot and more digits.
fn valid_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    id.strip_prefix("libos@")
        .is_some_and(|rest| match rest.split_once('.') {
            Some((pid, n)) => digits(pid) && digits(n),
            None => digits(rest),
        })
}

fn io_error(path: &Path, e: &io::Error) -> KernelError {
    KernelError::Store(format!("{}: {e}", path.display()))
}
