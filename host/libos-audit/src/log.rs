//! [`AuditLog`]: the handle the runtime appends to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use crate::error::AuditError;
use crate::record::{AuditRecord, AuditSink};
use crate::schema;
use crate::writer::{self, Msg};

/// An open, append-only audit log backed by an SQLite database.
///
/// [`AuditSink::append`] only queues the record; a dedicated writer thread (`libos-audit`)
/// commits queued records in batches, each extending the hash chain. Several `AuditLog`s, in
/// one process or many, may append to the same database: the chain stays linear.
///
/// Records are durable once [`AuditLog::flush`] returns `Ok`. Dropping the log flushes and
/// stops the writer thread.
pub struct AuditLog {
    path: PathBuf,
    sender: Option<Sender<Msg>>,
    writer: Option<JoinHandle<()>>,
    /// Records dropped by `append` because the writer thread was gone.
    dropped: Arc<AtomicU64>,
}

impl AuditLog {
    /// Opens the audit log in the database at `db_path`, creating the file and the audit tables
    /// if needed (other tables in the file are left alone), and starts the writer thread.
    ///
    /// Fails if the database cannot be opened or set up, or the thread cannot be spawned.
    pub fn open(db_path: &Path) -> Result<AuditLog, AuditError> {
        let conn = schema::open_for_writing(db_path)?;
        let (sender, receiver) = crossbeam_channel::unbounded();
        let writer = std::thread::Builder::new()
            .name("libos-audit".into())
            .spawn(move || writer::run(conn, receiver))?;
        Ok(AuditLog {
            path: db_path.to_path_buf(),
            sender: Some(sender),
            writer: Some(writer),
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The database path this log was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until every record appended (by any thread) before this call is committed.
    ///
    /// Returns an error if any record appended since the previous flush was not written: a
    /// batch failed to commit ([`AuditError::WriteFailed`]) or the writer thread is gone
    /// ([`AuditError::WriterGone`]). Each failure is reported once.
    pub fn flush(&self) -> Result<(), AuditError> {
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            return Err(AuditError::WriterGone { lost });
        }
        let sender = self
            .sender
            .as_ref()
            .ok_or(AuditError::WriterGone { lost: 0 })?;
        let (reply, wait) = crossbeam_channel::bounded(1);
        sender
            .send(Msg::Flush(reply))
            .map_err(|_| AuditError::WriterGone { lost: 0 })?;
        wait.recv()
            .map_err(|_| AuditError::WriterGone { lost: 0 })?
    }
}

impl AuditSink for AuditLog {
    /// Queues `record` for the writer thread; never blocks. If the writer is gone the record is
    /// counted as lost and the next [`AuditLog::flush`] reports it.
    fn append(&self, record: AuditRecord) {
        let sent = match &self.sender {
            Some(sender) => sender.send(Msg::Record(record)).is_ok(),
            None => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for AuditLog {
    /// Flushes, then stops and joins the writer thread. Failures are logged, not raised.
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            tracing::error!(%error, path = %self.path.display(), "audit flush on close failed");
        }
        self.sender = None;
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "audit writer thread panicked");
        }
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
