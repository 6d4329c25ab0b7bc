//! The journal's writer thread and group commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver as Queue, Sender as Enqueue};
use rusqlite::{Connection, OptionalExtension, params};

use tokio::sync::{oneshot, watch};

use crate::entry::{EffectState, Entry};
use crate::error::JournalError;
use crate::schema::CREATE_TABLES;

/// Most entries one commit takes.
const MAX_BATCH: usize = 4096;

/// A change waiting for its commit.
struct Job {
    change: Change,
    done: Done,
}

/// Where a job's outcome goes: one waiter, or any number ([`SharedPending`]).
enum Done {
    One(oneshot::Sender<Result<(), JournalError>>),
    Shared(watch::Sender<Option<Result<(), JournalError>>>),
}

impl Done {
    fn send(self, outcome: Result<(), JournalError>) -> Result<(), ()> {
        match self {
            Done::One(tx) => tx.send(outcome).map_err(|_| ()),
            Done::Shared(tx) => tx.send(Some(outcome)).map_err(|_| ()),
        }
    }
}

/// [`Pending`] for any number of waiters (clone it): stored once [`SharedPending::stored`]
/// returns `Ok`.
#[derive(Clone)]
pub struct SharedPending(watch::Receiver<Option<Result<(), JournalError>>>);

impl SharedPending {
    /// Waits, without holding a thread, until the change is committed (or refused).
    ///
    /// # Errors
    /// As [`Pending::wait`].
    pub async fn stored(mut self) -> Result<(), JournalError> {
        match self.0.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Err(JournalError::Closed)),
            Err(_) => Err(JournalError::Closed),
        }
    }
}

/// What a job changes.
enum Change {
    /// A new entry, next in its process's order.
    Append(Entry),
    /// An entry in one of the states `from` moves to `to`, with `result` if given.
    Settle {
        pid: u64,
        seq: u64,
        from: &'static [EffectState],
        to: EffectState,
        result: Option<Vec<u8>>,
    },
    /// The entries of an ended process that nobody needs any more.
    Remove(u64),
    /// The entries of a live process before `before` (its snapshot) that nobody needs.
    Compact { pid: u64, before: u64 },
    /// The grant that let a prepared effect through.
    NoteGrant { pid: u64, seq: u64, grant: u64 },
    /// Nothing: stored once everything handed over before it is.
    Barrier,
    /// A process's entries from a checkpoint's first on replaced by the checkpoint's.
    Restore {
        checkpoint: u64,
        from: u64,
        pid: u64,
    },
}

/// A change handed to the writer, durable once [`Pending::wait`] (or [`Pending::stored`])
/// returns `Ok`. Dropping it does not cancel the change.
#[must_use = "a change is durable only once `wait` returns Ok"]
pub struct Pending(oneshot::Receiver<Result<(), JournalError>>);

impl Pending {
    /// Blocks until the change is committed (or refused). Not from inside an async task: use
    /// [`Pending::stored`] there.
    ///
    /// # Errors
    /// What the writer said: out of order, a store error (nothing is stored), closed.
    pub fn wait(self) -> Result<(), JournalError> {
        self.0.blocking_recv().unwrap_or(Err(JournalError::Closed))
    }

    /// Blocks this thread until the change is committed (or refused), even on a thread that
    /// runs async tasks (which it holds meanwhile: for rare waits only).
    ///
    /// # Errors
    /// As [`Pending::wait`].
    pub fn wait_here(self) -> Result<(), JournalError> {
        crate::block::block_on(self.0).unwrap_or(Err(JournalError::Closed))
    }

    /// Waits, without holding a thread, until the change is committed (or refused).
    ///
    /// # Errors
    /// As [`Pending::wait`].
    pub async fn stored(self) -> Result<(), JournalError> {
        self.0.await.unwrap_or(Err(JournalError::Closed))
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
        Journal::open_after(path, Box::new(|| Ok(())))
    }

    /// [`Journal::open`] whose writer calls `before` before it commits each batch (and
    /// commits nothing of a batch when it fails): for changes of other tables that must be
    /// stored no later than what the batch holds (a process table's queued starts: a parent's
    /// journal never holds a child the table could lose). In WAL mode the batch's sync
    /// covers what `before` committed.
    ///
    /// # Errors
    /// As [`Journal::open`].
    pub fn open_after(path: &Path, before: BeforeCommit) -> Result<Journal, JournalError> {
        let tables = format!("{CREATE_TABLES}{}", crate::checkpoint::CREATE_TABLES);
        let mut writing = libos_db::open(path, &tables)?;
        // Each commit is on disk when it returns: the guest sees nothing before.
        writing.pragma_update(None, "synchronous", "FULL")?;
        writing.set_prepared_statement_cache_capacity(16);
        let reader = libos_db::open(path, &tables)?;
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let writer = std::thread::Builder::new()
            .name("libos-journal".into())
            .spawn(move || write_loop(&mut writing, &jobs, &before))
            .map_err(|e| JournalError::Store(format!("starting the journal writer: {e}")))?;
        Ok(Journal {
            queue: Some(queue),
            writer: Some(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Hands `entry` to the writer; see [`Pending`].
    pub fn append(&self, entry: Entry) -> Pending {
        self.submit(Change::Append(entry))
    }

    /// Moves entry `seq` of `pid`, now in one of the states `from`, to `to` (with `result`,
    /// if given; an entry moved to `committed`, `done` or `retried` must end with one). Refused
    /// with [`JournalError::NotInState`] if the entry is not in one of those states.
    pub fn settle(
        &self,
        (pid, seq): (u64, u64),
        from: &'static [EffectState],
        to: EffectState,
        result: Option<Vec<u8>>,
    ) -> Pending {
        self.submit(Change::Settle {
            pid,
            seq,
            from,
            to,
            result,
        })
    }

    /// Notes on the prepared entry `seq` of `pid` that grant `grant` let it through (wait for
    /// it to be stored before the effect). Refused with [`JournalError::NotInState`] if the
    /// entry is not prepared.
    pub fn note_grant(&self, (pid, seq): (u64, u64), grant: u64) -> Pending {
        self.submit(Change::NoteGrant { pid, seq, grant })
    }

    /// A change that changes nothing: once it is stored, so is everything handed over before
    /// it (the writer keeps the order). Any number may wait for it.
    pub fn barrier(&self) -> SharedPending {
        let (done, wait) = watch::channel(None);
        self.hand_over(Job {
            change: Change::Barrier,
            done: Done::Shared(done),
        });
        SharedPending(wait)
    }

    /// The number of the last entry `pid` has, if any (a snapshot deletes earlier entries,
    /// never the last).
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails.
    pub fn last_seq(&self, pid: u64) -> Result<Option<u64>, JournalError> {
        let p = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
        let conn = self.reader();
        let last: Option<i64> = conn
            .prepare_cached("SELECT MAX(seq) FROM journal WHERE pid = ?1")?
            .query_row(params![p], |r| r.get(0))?;
        Ok(last.and_then(|n| u64::try_from(n).ok()))
    }

    /// Replaces the journal of `pid` from the checkpoint's first entry on with the
    /// checkpoint's entries (the process goes back to it), in order after every change handed
    /// over before.
    pub fn restore(&self, checkpoint: &crate::Checkpoint, pid: u64) -> Pending {
        self.submit(Change::Restore {
            checkpoint: checkpoint.id,
            from: checkpoint.from,
            pid,
        })
    }

    fn submit(&self, change: Change) -> Pending {
        let (done, wait) = oneshot::channel();
        self.hand_over(Job {
            change,
            done: Done::One(done),
        });
        Pending(wait)
    }

    /// Queues `job` for the writer (or fails it at once if the writer is gone).
    fn hand_over(&self, job: Job) {
        match &self.queue {
            Some(queue) => {
                if let Err(crossbeam_channel::SendError(job)) = queue.send(job) {
                    let _ = job.done.send(Err(JournalError::Closed));
                }
            }
            None => {
                let _ = job.done.send(Err(JournalError::Closed));
            }
        }
    }

    /// The connection reads (and checkpoints) go through.
    pub(crate) fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entries of `pid`, in order.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be read.
    pub fn entries(&self, pid: u64) -> Result<Vec<Entry>, JournalError> {
        self.entries_from(pid, 1)
    }

    /// The entries of `pid` numbered `from` or later, in order.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be read or holds a malformed row.
    pub fn entries_from(&self, pid: u64, from: u64) -> Result<Vec<Entry>, JournalError> {
        let key = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
        let from = i64::try_from(from).map_err(|_| JournalError::OutOfRange(pid))?;
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM journal WHERE pid = ?1 AND seq >= ?2 ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![key, from], read_row)?;
        rows.map(|row| row?).collect()
    }

    /// The entries in one of `states` (all states when empty) across every process, by
    /// pid and number: the effects a person may have to settle (`libos effects`).
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be read or holds a malformed row.
    pub fn in_states(&self, states: &[EffectState]) -> Result<Vec<Entry>, JournalError> {
        let wanted: Vec<&str> = if states.is_empty() {
            vec!["prepared", "unknown", "done", "failed"]
        } else {
            states.iter().map(|s| s.as_str()).collect()
        };
        let conn = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for state in wanted {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM journal WHERE state = ?1 ORDER BY pid, seq"
            ))?;
            for row in stmt.query_map(params![state], read_row)? {
                out.push(row??);
            }
        }
        out.sort_by_key(|e| (e.pid, e.seq));
        Ok(out)
    }

    /// Whether `pid` has an effect under way that a stop would leave in doubt: an entry
    /// `prepared`, as stored, other than a sleep (`libos:runtime/time`) or a question
    /// (`libos:runtime/human.ask`), which are safe to run again.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails.
    pub fn effect_under_way(&self, pid: u64) -> Result<bool, JournalError> {
        let key = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
        let conn = self.reader();
        Ok(conn
            .prepare_cached(
                "SELECT 1 FROM journal WHERE state = 'prepared' AND pid = ?1
                 AND interface <> 'libos:runtime/time'
                 AND NOT (interface = 'libos:runtime/human' AND function = 'ask') LIMIT 1",
            )?
            .query_row([key], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Removes the entries of `pid` (a process that ended) that nobody needs any more: the
    /// committed and retried ones, in order after every change handed over before. Those a
    /// person settled or has to settle stay for `libos effects`.
    pub fn remove(&self, pid: u64) -> Pending {
        self.submit(Change::Remove(pid))
    }

    /// Compacts the journal of a live process at its snapshot `before`: deletes its committed
    /// and retried entries numbered below it, in order after every change handed over before
    /// (the snapshot's own entry among them). Those a person settled or has to settle stay.
    pub fn compact(&self, pid: u64, before: u64) -> Pending {
        self.submit(Change::Compact { pid, before })
    }

    /// Deletes every entry left of `pid`, whatever its state: for a process that has ended,
    /// once a person no longer needs its settled or in-doubt effects listed (`libos effects
    /// --prune`; the audit log keeps the questions and answers). Returns how many there were.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails.
    pub fn forget(&self, pid: u64) -> Result<usize, JournalError> {
        let key = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
        let conn = self.reader();
        Ok(conn
            .prepare_cached("DELETE FROM journal WHERE pid = ?1")?
            .execute([key])?)
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

/// The columns [`read_row`] reads.
const COLUMNS: &str = "pid, seq, interface, function, args_digest, intent, result, state, grant_id";

/// One row of [`COLUMNS`] as an entry.
fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Entry, JournalError>> {
    let pid: i64 = row.get(0)?;
    let seq: i64 = row.get(1)?;
    let digest: Vec<u8> = row.get(4)?;
    let state: String = row.get(7)?;
    let grant: Option<i64> = row.get(8)?;
    let entry = (|| {
        let pid = u64::try_from(pid).map_err(|_| JournalError::Store(format!("bad pid {pid}")))?;
        Ok(Entry {
            pid,
            seq: u64::try_from(seq).map_err(|_| JournalError::OutOfRange(pid))?,
            interface: row.get(2)?,
            function: row.get(3)?,
            args_digest: digest.try_into().map_err(|_| {
                JournalError::Store(format!("process {pid}: entry {seq} has a bad digest"))
            })?,
            intent: row.get(5)?,
            result: row.get(6)?,
            state: EffectState::parse(&state).ok_or_else(|| {
                JournalError::Store(format!("process {pid}: entry {seq} has state {state:?}"))
            })?,
            grant: grant.and_then(|g| u64::try_from(g).ok()),
        })
    })();
    Ok(entry)
}

/// What a journal's writer calls before each commit ([`Journal::open_after`]).
pub type BeforeCommit = Box<dyn Fn() -> Result<(), String> + Send>;

/// Commits whatever is queued, a batch at a time, until the queue closes.
fn write_loop(conn: &mut Connection, jobs: &Queue<Job>, before: &BeforeCommit) {
    let mut next: HashMap<u64, u64> = HashMap::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = before() {
            let err = JournalError::Store(format!("what must be stored first was not: {e}"));
            tracing::warn!(error = %err, "journal batch not stored");
            for job in batch {
                let _ = job.done.send(Err(err.clone()));
            }
            continue;
        }
        commit(conn, &mut next, batch);
    }
}

/// One transaction for `batch`: each change in order or refused; all told the outcome.
fn commit(conn: &mut Connection, next: &mut HashMap<u64, u64>, batch: Vec<Job>) {
    let mut written: Vec<Job> = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    let outcome = (|| -> Result<(), JournalError> {
        // Immediate: the write lock is taken first (a deferred transaction that read before
        // writing would fail at once if another connection wrote meanwhile).
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for job in jobs.by_ref() {
            let applied = match &job.change {
                Change::Append(e) => append(&tx, next, e),
                Change::Settle {
                    pid,
                    seq,
                    from,
                    to,
                    result,
                } => settle(&tx, (*pid, *seq), from, *to, result.as_deref()),
                Change::Remove(pid) => remove(&tx, next, *pid),
                Change::Compact { pid, before } => compact(&tx, *pid, *before),
                Change::NoteGrant { pid, seq, grant } => note_grant(&tx, (*pid, *seq), *grant),
                Change::Barrier => Ok(()),
                Change::Restore {
                    checkpoint,
                    from,
                    pid,
                } => restore(&tx, next, *checkpoint, *from, *pid),
            };
            match applied {
                Ok(()) => written.push(job),
                // The database itself failed: nothing of the batch is stored.
                Err(JournalError::Store(e)) => {
                    written.push(job);
                    return Err(JournalError::Store(e));
                }
                Err(refused) => {
                    let _ = job.done.send(Err(refused));
                }
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
            for job in written.into_iter().chain(jobs) {
                let _ = job.done.send(Err(err.clone()));
            }
        }
    }
}

/// Inserts `e` if it is the next entry of its process.
fn append(conn: &Connection, next: &mut HashMap<u64, u64>, e: &Entry) -> Result<(), JournalError> {
    let expected = expected_next(conn, next, e.pid)?;
    if e.seq != expected {
        return Err(JournalError::OutOfOrder {
            pid: e.pid,
            seq: e.seq,
            expected,
        });
    }
    let (Ok(pid), Ok(seq)) = (i64::try_from(e.pid), i64::try_from(e.seq)) else {
        return Err(JournalError::OutOfRange(e.pid));
    };
    conn.prepare_cached(
        "INSERT INTO journal
             (pid, seq, interface, function, args_digest, intent, result, state, grant_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        pid,
        seq,
        e.interface,
        e.function,
        &e.args_digest[..],
        e.intent,
        e.result,
        e.state.as_str(),
        e.grant.and_then(|g| i64::try_from(g).ok())
    ])?;
    next.insert(e.pid, expected + 1);
    Ok(())
}

/// Replaces the entries of `pid` from `from` on with those of `checkpoint`.
fn restore(
    conn: &Connection,
    next: &mut HashMap<u64, u64>,
    checkpoint: u64,
    from: u64,
    pid: u64,
) -> Result<(), JournalError> {
    let key = |n: u64| i64::try_from(n).map_err(|_| JournalError::OutOfRange(n));
    conn.prepare_cached("DELETE FROM journal WHERE pid = ?1 AND seq >= ?2")?
        .execute(params![key(pid)?, key(from)?])?;
    conn.prepare_cached(
        "INSERT INTO journal (pid, seq, interface, function, args_digest, intent, result, state)
         SELECT ?1, seq, interface, function, args_digest, intent, result, state
         FROM journal_checkpoint_entries WHERE checkpoint = ?2",
    )?
    .execute(params![key(pid)?, key(checkpoint)?])?;
    next.remove(&pid);
    Ok(())
}

/// Deletes the committed and retried entries of `pid`.
fn remove(conn: &Connection, next: &mut HashMap<u64, u64>, pid: u64) -> Result<(), JournalError> {
    let key = i64::try_from(pid).map_err(|_| JournalError::OutOfRange(pid))?;
    conn.prepare_cached(
        "DELETE FROM journal WHERE pid = ?1 AND state IN ('committed', 'retried')",
    )?
    .execute(params![key])?;
    next.remove(&pid);
    Ok(())
}

/// Deletes the committed and retried entries of `pid` below `before`.
fn compact(conn: &Connection, pid: u64, before: u64) -> Result<(), JournalError> {
    let key = |n: u64| i64::try_from(n).map_err(|_| JournalError::OutOfRange(n));
    conn.prepare_cached(
        "DELETE FROM journal WHERE pid = ?1 AND seq < ?2 AND state IN ('committed', 'retried')",
    )?
    .execute(params![key(pid)?, key(before)?])?;
    Ok(())
}

/// Notes `grant` on the prepared entry `seq` of `pid`.
fn note_grant(conn: &Connection, (pid, seq): (u64, u64), grant: u64) -> Result<(), JournalError> {
    let (Ok(key), Ok(n), Ok(g)) = (i64::try_from(pid), i64::try_from(seq), i64::try_from(grant))
    else {
        return Err(JournalError::OutOfRange(pid));
    };
    let changed = conn
        .prepare_cached(
            "UPDATE journal SET grant_id = ?3 WHERE pid = ?1 AND seq = ?2 AND state IN ('prepared', 'unknown')",
        )?
        .execute(params![key, n, g])?;
    if changed == 1 {
        return Ok(());
    }
    Err(JournalError::NotInState {
        pid,
        seq,
        state: "neither prepared nor in doubt".into(),
    })
}

/// Moves entry `seq` of `pid` from one of `from` to `to`.
fn settle(
    conn: &Connection,
    (pid, seq): (u64, u64),
    from: &[EffectState],
    to: EffectState,
    result: Option<&[u8]>,
) -> Result<(), JournalError> {
    let (Ok(key), Ok(n)) = (i64::try_from(pid), i64::try_from(seq)) else {
        return Err(JournalError::OutOfRange(pid));
    };
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM journal WHERE pid = ?1 AND seq = ?2")?
        .query_row(params![key, n], |row| row.get(0))
        .optional()?;
    let now = state.as_deref().and_then(EffectState::parse);
    if !now.is_some_and(|s| from.contains(&s)) {
        return Err(JournalError::NotInState {
            pid,
            seq,
            state: state.unwrap_or_else(|| "missing".into()),
        });
    }
    conn.prepare_cached(
        "UPDATE journal SET state = ?3, result = COALESCE(?4, result) WHERE pid = ?1 AND seq = ?2",
    )?
    .execute(params![key, n, to.as_str(), result])?;
    Ok(())
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
