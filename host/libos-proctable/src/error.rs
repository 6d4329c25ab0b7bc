//! The errors the process table reports.

use crate::lifecycle::TransitionError;

/// Shorthand for results of process-table operations.
pub type Result<T> = std::result::Result<T, KernelError>;

/// Why a process-table operation failed.
///
/// Every variant except [`KernelError::Store`] means the request was refused before anything
/// was written: the table is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// No process has this pid.
    #[error("no process {0}")]
    NoSuchProcess(u64),
    /// A new process's parent has already ended.
    #[error("parent process {parent} has ended ({state})")]
    ParentEnded {
        /// The parent's pid.
        parent: u64,
        /// The name of the parent's state (`exited`, `failed` or `killed`).
        state: String,
    },
    /// The process has ended (exited, failed or been killed): it can no longer be changed
    /// or sent messages.
    #[error("process {pid} has ended ({state})")]
    Ended {
        /// The process.
        pid: u64,
        /// The name of its state (`exited`, `failed` or `killed`).
        state: String,
    },
    /// A message queue holds as many messages as it may.
    #[error("the message queue of process {pid} is full ({limit} messages)")]
    QueueFull {
        /// The receiving process.
        pid: u64,
        /// How many messages a queue holds at most.
        limit: usize,
    },
    /// The lifecycle does not allow the requested state change from the process's current
    /// state (read inside the same transaction as the write).
    #[error("process {pid}: {source}")]
    Transition {
        /// The process whose state was to change.
        pid: u64,
        /// Both states.
        #[source]
        source: TransitionError,
    },
    /// The database failed (locked past the busy timeout, disk full, corrupt data, ...).
    #[error("process table error: {0}")]
    Store(String),
}

impl From<rusqlite::Error> for KernelError {
    fn from(err: rusqlite::Error) -> Self {
        KernelError::Store(err.to_string())
    }
}

impl From<libos_db::OpenError> for KernelError {
    fn from(err: libos_db::OpenError) -> Self {
        KernelError::Store(err.to_string())
    }
}
