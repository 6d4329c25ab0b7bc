//! The journal's writer thread and group commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver as Queue, Sender as Enqueue};
use rusqlite::{Connection, OptionalExtension, params};

use crate::entry::Entry;
use crate::error::JournalError;
use crate::schema::CREATE_TABLES;

/// Most entries one commit takes.
const MAX_BATCH: usize = 4096;

/// An append waiting for its commit.
struct Job {
    entry: Entry,
    done: SyncSender<Result<(), JournalError>>,
}

/// An appended entry, durable once [`Pending::wait`] returns `Ok`.
#[must_use = "an entry is durable only once `wait` returns Ok"]
pub struct Pending(Receiver<Result<(), JournalError>>);

impl Pending {
    /// Blocks until the entry is committed (or refused).
    ///
    /// # Errors
    /// What the writer said: out of order, a store error (the entry is not stored), closed.
    pub fn wait(self) -> Result<(), JournalError> {
        self.0.recv().unwrap_or(Err(JournalError::Closed))
    }
}

/// The journal of one state directory's database (see the crate docs).
pub struct Journal {
    queue: Option<Enqueue<Job>>,
    writer: Option<JoinHandle<()>>,
    reader: Mutex<Connection>,
}

impl Journal {
    /// Opens the journal in the database at `path` (creating its table) and starts its
    /// writer thread.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be opened.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let mut writing = libos_db::open(path, CREATE_TABLES)?;
        // Each commit is on disk when it returns: the guest sees nothing before.
        writing.pragma_update(None, "synchronous", "FULL")?;
        writing.set_prepared_statement_cache_capacity(16);
        let reader = libos_db::open(path, CREATE_TABLES)?;
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let writer = std::thread::Builder::new()
            .name("libos-journal".into())
            .spawn(move || write_loop(&mut writing, &jobs))
            .map_err(|e| JournalError::Store(format!("starting the journal writer: {e}")))?;
        Ok(Journal {
            queue: Some(queue),
            writer: Some(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Hands `entry` to the writer; see [`Pending`].
    pub fn append(&self, entry: Entry) -> Pending {
        let (done, wait) = sync_channel(1);
        let job = Job { entry, done };
        if let Some(queue) = &self.queue
            && let Err(crossbeam_channel::SendError(job)) = queue.send(job)
        {
            let _ = job.done.send(Err(JournalError::Closed));
        }
        Pending(wait)
    }

    /// The entries of `pid`, in order.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be read.
    pub fn entries(&self, pid: u64) -> Result<Vec<Entry>, JournalError> {
        let key = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stmt = conn.prepare_cached(
            "SELECT seq, interface, function, args_digest, result FROM journal
             WHERE pid = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![key], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, interface, function, digest, result) = row?;
            let args_digest: [u8; 32] = digest.try_into().map_err(|_| {
                JournalError::Store(format!("process {pid}: entry {seq} has a bad digest"))
            })?;
            out.push(Entry {
                pid,
                seq: u64::try_from(seq).map_err(|_| JournalError::OutOfRange(pid))?,
                interface,
                function,
                args_digest,
                result,
            });
        }
        Ok(out)
    }
}

impl Drop for Journal {
    /// Closes the queue and waits until every entry handed over is committed or refused.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Commits whatever is queued, a batch at a time, until the queue closes.
fn write_loop(conn: &mut Connection, jobs: &Queue<Job>) {
    let mut next: HashMap<u64, u64> = HashMap::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(conn, &mut next, batch);
    }
}

/// One transaction for `batch`: each entry in order or refused; all told the outcome.
fn commit(conn: &mut Connection, next: &mut HashMap<u64, u64>, batch: Vec<Job>) {
    let mut written: Vec<Job> = Vec::with_capacity(batch.len());
    let outcome = (|| -> Result<(), JournalError> {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO journal (pid, seq, interface, function, args_digest, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for job in batch {
                let e = &job.entry;
                let expected = match expected_next(&tx, next, e.pid) {
                    Ok(n) => n,
                    Err(err) => {
                        let _ = job.done.send(Err(err));
                        continue;
                    }
                };
                if e.seq != expected {
                    let _ = job.done.send(Err(JournalError::OutOfOrder {
                        pid: e.pid,
                        seq: e.seq,
                        expected,
                    }));
                    continue;
                }
                let (Ok(pid), Ok(seq)) = (i64::try_from(e.pid), i64::try_from(e.seq)) else {
                    let _ = job.done.send(Err(JournalError::OutOfRange(e.pid)));
                    continue;
                };
                insert.execute(params![
                    pid,
                    seq,
                    e.interface,
                    e.function,
                    &e.args_digest[..],
                    e.result
                ])?;
                next.insert(e.pid, expected + 1);
                written.push(job);
            }
        }
        tx.commit()?;
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            for job in written {
                let _ = job.done.send(Ok(()));
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "journal batch not stored");
            // What the cache expected next may be wrong now: read it again.
            next.clear();
            for job in written {
                let _ = job.done.send(Err(err.clone()));
            }
        }
    }
}

/// The number `pid`'s next entry must have (cached; read from the table the first time).
fn expected_next(
    conn: &Connection,
    next: &mut HashMap<u64, u64>,
    pid: u64,
) -> Result<u64, JournalError> {
    if let Some(n) = next.get(&pid) {
        return Ok(*n);
    }
    let key = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
    let last: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM journal WHERE pid = ?1")?
        .query_row(params![key], |row| row.get(0))
        .optional()?
        .flatten();
    let n = last.map_or(1, |l| u64::try_from(l).unwrap_or(0) + 1);
    next.insert(pid, n);
    Ok(n)
}
