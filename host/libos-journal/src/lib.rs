//! The write-ahead journal of process primitive calls.
//!
//! Every primitive call of a process is an [`Entry`] numbered per process from 1: which
//! interface and function, the digest of its arguments and the result the guest was given.
//! [`Journal::append`] hands an entry to one writer thread and returns a [`Pending`] that
//! resolves once the entry is durable (committed with `synchronous = FULL`, so an fsync of the
//! write-ahead log covers it); the caller shows the guest the result only then. Appends from
//! many processes that arrive while a commit is in flight share the next commit (group
//! commit), so a lone process pays one fsync per call and many pay one per batch.
//! [`Journal::entries`] reads a process's entries back in order, for replay.
//!
//! The table `journal` lives in the shared `libos.db` (see [`schema`]).

mod entry;
mod error;
pub mod schema;
mod writer;

pub use entry::Entry;
pub use error::JournalError;
pub use writer::{Journal, Pending};
