//! Tamper-evident audit log for Agent libOS.
//!
//! Every authority decision becomes an [`AuditRecord`]. Records are appended off the hot path
//! by a writer thread in batches to an SQLite table (WAL mode) and form a SHA-256 hash chain
//! (see [`chain`] for the exact format), so that [`verify`] can detect any edit, deletion,
//! insertion or reordering of rows.

mod batch;
pub mod chain;
pub mod clock;
mod damage;
mod error;
pub mod head_file;
mod log;
mod queue;
mod read;
mod record;
mod row;
mod schema;
mod verify;
mod writer;

pub use batch::Batch;
pub use error::AuditError;
pub use log::AuditLog;
pub use read::{StoredRecord, read_records, vouches};
pub use record::{AuditRecord, AuditSink, Decided, MAX_DETAIL, StoreDone, Verdict, capped_detail};
pub use verify::{BadRecord, VerifyReport, verify, verify_against};
