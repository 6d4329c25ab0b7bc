//! Why a journal operation failed.

/// Why a journal operation failed. Nothing was appended in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// The entry's number is not the next one of its process (a gap or a repeat).
    #[error("process {pid}: journal entry {seq} is out of order (expected {expected})")]
    OutOfOrder {
        /// The process.
        pid: u64,
        /// The number given.
        seq: u64,
        /// The number expected next.
        expected: u64,
    },
    /// The entry to settle is missing or not in a state it may leave that way.
    #[error("process {pid}: journal entry {seq} is {state}")]
    NotInState {
        /// The process.
        pid: u64,
        /// The entry.
        seq: u64,
        /// The state it is in (`missing` if there is none).
        state: String,
    },
    /// A pid or number beyond what the store holds.
    #[error("process {0}: pid or entry number out of range")]
    OutOfRange(u64),
    /// The database failed (disk full, locked past the busy timeout, corrupt); the entries
    /// of the batch were not stored.
    #[error("journal store error: {0}")]
    Store(String),
    /// Not now: the process is in the middle of something that must finish first.
    #[error("{0}; try again")]
    Busy(String),
    /// The writer thread is gone (the journal was closed).
    #[error("the journal is closed")]
    Closed,
}

impl From<rusqlite::Error> for JournalError {
    fn from(e: rusqlite::Error) -> Self {
        JournalError::Store(e.to_string())
    }
}

impl From<libos_db::OpenError> for JournalError {
    fn from(e: libos_db::OpenError) -> Self {
        JournalError::Store(e.to_string())
    }
}
