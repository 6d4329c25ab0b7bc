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
//! An external effect is journaled twice: its intent, `prepared`, durable before it is
//! dispatched, then settled `committed` with its result ([`Journal::settle`]). A `prepared`
//! entry that outlives its host is in doubt (see [`EffectState`]).
//!
//! Retention: a process's entries are needed only while it can be resumed. The host removes
//! the committed ones when the process ends (exited, failed or killed); the effects that were
//! in doubt, settled by a person or not, stay, and `libos effects` lists them.
//!
//! The table `journal` lives in the shared `libos.db` (see [`schema`]).

mod block;
mod checkpoint;
mod entry;
mod error;
pub mod schema;
mod writer;

pub use checkpoint::Checkpoint;
pub use entry::{EffectState, Entry};
pub use error::JournalError;
pub use writer::{BeforeCommit, Journal, Pending, SharedPending};
