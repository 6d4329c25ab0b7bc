//! The process table: the durable record of every process, its tree and its state changes.

use std::path::Path;
use std::sync::MutexGuard;

use libos_db::SharedConnection;

use rusqlite::Connection;

use crate::error::Result;
use crate::read;
use crate::record::{NewProcess, ProcessFilter, ProcessRecord, TransitionRecord};
use crate::schema;
use crate::state::State;
use crate::write;

/// A handle on the process table in the shared database file.
///
/// Several handles (in one or several OS processes) may use the same file: every mutation
/// runs in one `BEGIN IMMEDIATE` transaction that reads the state it checks, so concurrent
/// changes are serialized and never both succeed from the same state. The handle is
/// `Send + Sync`; calls through one handle are serialized.
///
/// Every method can fail with [`crate::KernelError::Store`] if the database fails (including a
/// lock held by another connection for longer than the 5 s busy timeout).
#[derive(Debug)]
pub struct ProcessTable {
    conn: SharedConnection,
}

impl ProcessTable {
    /// Opens the database at `db_path` (conventionally `<state_dir>/libos.db`), creating the
    /// file and the process tables if needed. Other tables in the file are left alone.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] if the file cannot be opened, refuses WAL mode or the
    /// tables cannot be created.
    pub fn open(db_path: impl AsRef<Path>) -> Result<Self> {
        let conn = schema::open(db_path.as_ref())?;
        Ok(ProcessTable {
            conn: SharedConnection::new(conn),
        })
    }

    /// Registers a new process in state [`State::Created`] with a fresh pid (pids are never
    /// reused). Its `root` is its parent's root, or its own pid without a parent.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if `new.parent` does not exist;
    /// [`crate::KernelError::ParentEnded`] if the parent has exited, failed or been killed.
    pub fn create(&self, new: NewProcess) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            let pid = write::create(conn, &new)?;
            read::process(conn, pid)
        })
    }

    /// Moves process `pid` to `to`, as allowed by [`crate::lifecycle::check`] from the state it
    /// is in when the transaction starts, records the change and returns the updated record.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process;
    /// [`crate::KernelError::Transition`] (naming both states) if the change is not allowed,
    /// e.g. because a concurrent change got there first.
    pub fn transition(&self, pid: u64, to: State) -> Result<ProcessRecord> {
        self.transaction(|conn| write::transition(conn, pid, &to))
    }

    /// Applies the state changes `path` to process `pid` in order, each checked and recorded
    /// as by [`ProcessTable::transition`], all in one transaction: either every change is made
    /// or none. Returns the final record. (E.g. `[Ready, Running]` when a blocked process
    /// resumes: one commit instead of two.)
    ///
    /// # Errors
    ///
    /// As [`ProcessTable::transition`], for the first change that is not allowed (nothing of
    /// `path` is then recorded). An empty `path` returns the current record unchanged.
    pub fn transitions_to(&self, pid: u64, path: &[State]) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            let mut record = read::process(conn, pid)?;
            for to in path {
                record = write::transition(conn, pid, to)?;
            }
            Ok(record)
        })
    }

    /// Moves every live process of the subtree rooted at `pid` (itself included) to
    /// [`State::Killed`], recording each change, all in one transaction. Processes that have
    /// already ended are left as they are. Returns the pids it changed, in tree order.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn kill_subtree(&self, pid: u64) -> Result<Vec<u64>> {
        self.transaction(|conn| write::kill_subtree(conn, pid))
    }

    /// The process `pid`.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is none.
    pub fn get(&self, pid: u64) -> Result<ProcessRecord> {
        read::process(&self.lock(), pid)
    }

    /// Every process, or only the live ones, by ascending pid.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn list(&self, filter: ProcessFilter) -> Result<Vec<ProcessRecord>> {
        read::list(&self.lock(), filter)
    }

    /// The direct children of `pid`, live or not, by ascending pid.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn children(&self, pid: u64) -> Result<Vec<ProcessRecord>> {
        read::children(&self.lock(), pid)
    }

    /// Every descendant of `pid` (not `pid` itself), live or not, in tree order: depth first,
    /// each process before its own descendants, siblings by ascending pid.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn descendants(&self, pid: u64) -> Result<Vec<ProcessRecord>> {
        let mut subtree = read::subtree(&self.lock(), pid)?;
        subtree.retain(|process| process.pid != pid);
        Ok(subtree)
    }

    /// The ancestors of `pid` (not `pid` itself): its parent first, its tree's root last;
    /// empty for a root.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn ancestors(&self, pid: u64) -> Result<Vec<ProcessRecord>> {
        read::ancestors(&self.lock(), pid)
    }

    /// The recorded state changes of `pid`, oldest first (creation is not a change).
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn transitions(&self, pid: u64) -> Result<Vec<TransitionRecord>> {
        read::transitions(&self.lock(), pid)
    }

    /// The live processes owned by `host`, by ascending pid: what a restarted host must
    /// resume or mark failed.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn owned_by(&self, host: &str) -> Result<Vec<ProcessRecord>> {
        read::owned_by(&self.lock(), host)
    }

    /// The pids of `host`'s processes that were killed, ascending: what a host polls to stop
    /// the processes killed from another terminal. Reads only the pid column (indexed).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn killed_on(&self, host: &str) -> Result<Vec<u64>> {
        read::killed_on(&self.lock(), host)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction, committing only if it succeeds.
    fn transaction<T>(&self, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.conn.immediate(body)
    }

    /// Locks the connection (see [`SharedConnection::lock`]).
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock()
    }
}
