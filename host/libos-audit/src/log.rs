//! [`AuditLog`]: the handle the runtime appends to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::batch::Batch;
use crate::error::AuditError;
use crate::queue::Queue;
use crate::record::{AuditRecord, AuditSink};
use crate::schema;
use crate::writer;

/// An open, append-only audit log backed by an SQLite database.
///
/// [`AuditSink::append`] only queues the record; a dedicated writer thread (`libos-audit`)
/// commits queued records in batches, each extending the hash chain. The queue is bounded
/// (64 Ki records): when the writer falls that far behind, `append` waits for it rather than
/// letting memory grow. Several `AuditLog`s, in
/// one process or many, may append to the same database: the chain stays linear.
///
/// Records are durable once [`AuditLog::flush`] returns `Ok`. Dropping the log flushes and
/// stops the writer thread.
pub struct AuditLog {
    path: PathBuf,
    queue: Arc<Queue>,
    writer: Option<JoinHandle<()>>,
}

impl AuditLog {
    /// Opens the audit log in the database at `db_path`, creating the file and the audit tables
    /// if needed (other tables in the file are left alone), and starts the writer thread.
    ///
    /// Fails if the database cannot be opened or set up, or the thread cannot be spawned.
    pub fn open(db_path: &Path) -> Result<AuditLog, AuditError> {
        let conn = schema::open_for_writing(db_path)?;
        let queue = Arc::new(Queue::default());
        let for_writer = Arc::clone(&queue);
        let head_file = crate::head_file::path_for(db_path);
        let writer = std::thread::Builder::new()
            .name("libos-audit".into())
            .spawn(move || writer::run(conn, for_writer, head_file))?;
        crate::damage::check_in_background(db_path, Arc::clone(&queue));
        Ok(AuditLog {
            path: db_path.to_path_buf(),
            queue,
            writer: Some(writer),
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
        let (reply, wait) = crossbeam_channel::bounded(1);
        self.queue.flush(Box::new(move |result| {
            // The flushing thread may have stopped waiting; nothing to report to then.
            let _ = reply.send(result);
        }));
        wait.recv()
            .map_err(|_| AuditError::WriterGone { lost: 0 })?
    }

    /// [`AuditLog::flush`] without waiting: `done` is called with its outcome once every
    /// record appended before this call is committed (on the writer thread, or at once if the
    /// writer is gone). `done` must not block.
    pub fn flush_then(&self, done: Box<dyn FnOnce(Result<(), AuditError>) + Send>) {
        self.queue.flush(done);
    }

    /// Why records cannot be stored now (the last batch failed and none committed since, or
    /// the writer is gone); `None` while the log is being written.
    pub fn failing(&self) -> Option<String> {
        self.queue.failing()
    }
}

impl AuditSink for AuditLog {
    /// Queues `record` for the writer thread. Never waits on disk; waits for the writer only
    /// while 64 Ki records are already queued. If the writer is gone the record is counted as
    /// lost and the next [`AuditLog::flush`] reports it.
    fn append(&self, record: AuditRecord) {
        self.queue.push(record);
    }

    /// [`AuditLog::flush`]: every record queued so far committed to the database.
    fn store(&self) -> Result<(), String> {
        self.flush().map_err(|e| e.to_string())
    }

    /// Queues `batch` and its flush in one go (see `Queue::push_batch_and_flush`).
    fn store_batch_then(&self, batch: &mut Batch, done: crate::record::StoreDone) {
        self.queue.push_batch_and_flush(
            batch,
            Box::new(move |result| done(result.map_err(|e| e.to_string()))),
        );
    }

    /// [`AuditLog::flush_then`].
    fn store_then(&self, done: crate::record::StoreDone) {
        self.flush_then(Box::new(move |result| {
            done(result.map_err(|e| e.to_string()))
        }));
    }

    /// [`AuditLog::failing`].
    fn failing(&self) -> Option<String> {
        self.queue.failing()
    }

    /// Queues all of `records` under one lock.
    fn append_all(&self, records: &mut Vec<AuditRecord>) {
        self.queue.push_all(records);
    }

    /// Queues `batch` whole under one lock; the writer thread builds its records.
    fn append_batch(&self, batch: &mut Batch) {
        self.queue.push_batch(batch);
    }
}

impl Drop for AuditLog {
    /// Flushes, then stops and joins the writer thread. Failures are logged, not raised.
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            tracing::error!(%error, path = %self.path.display(), "audit flush on close failed");
        }
        self.queue.close();
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
