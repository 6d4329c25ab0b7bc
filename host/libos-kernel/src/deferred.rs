//! Changes recorded behind the caller: a process's start, its own blocking and waking, and
//! its end.
//!
//! Starting a process and ending it are the two changes on the path of every spawn, and each
//! used to cost a commit (tens of microseconds: most of a spawn); blocking cost one on every
//! park, run on the process's fiber stack. A host that starts a
//! process knows everything the table would check (it runs the parent; the pid comes from a
//! block it reserved), so it queues the change and goes on; the table's writer thread commits
//! what is queued, many changes per commit when they come fast.
//!
//! Order is kept: the queue is only ever drained by whoever holds the connection, and every
//! other mutation drains it first, in its own transaction, so a change queued before a kill
//! (say) is recorded before it. Every read through the table drains it too, so a host always
//! reads what it has done. Other `libos` invocations see a queued change once it is committed,
//! normally within a commit's time; a host that crashes loses what it had queued and not
//! committed, like the audit log's last records (`docs/ARCHITECTURE.md`).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use libos_db::SharedConnection;
use rusqlite::{Connection, TransactionBehavior};

use crate::error::Result;
use crate::record::NewProcess;
use crate::state::State;
use crate::usage::Usage;
use crate::write;

/// Called once the end of a process is committed (with the id of its exit event) or could
/// not be recorded (e.g. it had been killed meanwhile; the error says why).
pub type EndDone = Box<dyn FnOnce(Result<u64>) + Send>;

/// A queued change.
pub(crate) enum Op {
    /// Record process `pid` (a reserved pid) started and running, as `create_running` does.
    Start { pid: u64, new: NewProcess },
    /// Apply the state changes `path` to `pid` as `advance` does, the process's own
    /// (blocking, waking); a refusal (it was killed meanwhile) is only logged.
    Advance { pid: u64, path: Vec<State> },
    /// End `pid` with its exit notice and final usage (see `ProcessTable::end_behind`).
    End {
        pid: u64,
        end: State,
        topic: String,
        payload: String,
        usage: Option<Usage>,
        done: Option<EndDone>,
    },
}

impl Op {
    /// Applies the change inside the caller's transaction; returns the pid (start) or the
    /// exit event's id (end).
    fn apply(&self, conn: &Connection) -> Result<u64> {
        match self {
            Op::Start { pid, new } => write::start_as(conn, *pid, new).map(|()| *pid),
            Op::Advance { pid, path } => {
                for to in path {
                    write::advance_only(conn, *pid, to)?;
                }
                Ok(*pid)
            }
            Op::End {
                pid,
                end,
                topic,
                payload,
                usage,
                ..
            } => write::end(conn, *pid, end, (topic, payload), usage.as_ref()),
        }
    }

    /// Tells whoever waits for the change how it went.
    fn complete(self, outcome: Result<u64>) {
        match self {
            Op::Start { pid, .. } => {
                if let Err(e) = outcome {
                    tracing::error!(pid, error = %e, "the start of a process was not recorded");
                }
            }
            Op::Advance { pid, .. } => {
                if let Err(e) = outcome {
                    // Killed meanwhile: the table refuses leaving an ended state.
                    tracing::debug!(pid, error = %e, "state change not recorded");
                }
            }
            Op::End { done, pid, .. } => match done {
                Some(done) => done(outcome),
                None => {
                    if let Err(e) = outcome {
                        tracing::warn!(pid, error = %e, "the end of a process was not recorded");
                    }
                }
            },
        }
    }
}

#[derive(Default)]
struct Queue {
    ops: VecDeque<Op>,
    stop: bool,
}

/// The connection and the changes queued for it, shared by the table and its writer thread.
pub(crate) struct Shared {
    conn: SharedConnection,
    /// A second connection for reads of what is committed: under WAL it never waits for
    /// the writer thread's commits.
    reader: SharedConnection,
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    pub(crate) fn new(conn: Connection, reader: Connection) -> Self {
        Shared {
            conn: SharedConnection::new(conn),
            reader: SharedConnection::new(reader),
            queue: Mutex::default(),
            wake: Condvar::new(),
        }
    }

    /// Queues `op` for the writer thread.
    pub(crate) fn post(&self, op: Op) {
        self.lock_queue().ops.push_back(op);
        self.wake.notify_one();
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction after every queued change, committing
    /// only if it succeeds. The queued changes are committed either way (each that fails is
    /// rolled back alone and reported to its waiter); if the commit itself fails they stay
    /// queued, in order.
    pub(crate) fn transaction<T>(&self, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock();
        let ops: Vec<Op> = self.lock_queue().ops.drain(..).collect();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                self.requeue(ops);
                return Err(e.into());
            }
        };
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in &ops {
            outcomes.push(in_savepoint(&tx, |conn| op.apply(conn)));
        }
        let out = if ops.is_empty() {
            body(&tx)
        } else {
            in_savepoint(&tx, body)
        };
        if ops.is_empty() && out.is_err() {
            return out; // Dropping `tx` rolls back.
        }
        if let Err(e) = tx.commit() {
            self.requeue(ops);
            return Err(e.into());
        }
        drop(conn);
        for (op, outcome) in ops.into_iter().zip(outcomes) {
            op.complete(outcome);
        }
        out
    }

    /// Commits whatever is queued.
    pub(crate) fn flush(&self) -> Result<()> {
        if self.lock_queue().ops.is_empty() {
            return Ok(());
        }
        self.transaction(|_| Ok(()))
    }

    /// The connection, for a read that must see everything queued before it.
    pub(crate) fn read(&self) -> Result<MutexGuard<'_, Connection>> {
        self.flush()?;
        Ok(self.conn.lock())
    }

    /// The connection as committed, for reads that do not depend on queued changes.
    pub(crate) fn committed(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock()
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction of the second connection, without
    /// committing what is queued first: for a change that nothing queued depends on and that
    /// must not wait for it (reserving pids, which a queued start only uses).
    pub(crate) fn aside<T>(&self, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.reader.immediate(body)
    }

    /// Tells the writer thread to commit what is queued and stop.
    pub(crate) fn stop(&self) {
        self.lock_queue().stop = true;
        self.wake.notify_one();
    }

    /// The writer thread: commits what is queued as it comes, until stopped.
    pub(crate) fn write_behind(&self) {
        loop {
            let stopping = {
                let mut queue = self.lock_queue();
                while queue.ops.is_empty() && !queue.stop {
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if queue.ops.is_empty() {
                    return;
                }
                queue.stop
            };
            if !stopping {
                // Let changes gather: one commit for all that come meanwhile.
                std::thread::sleep(GATHER);
            }
            if let Err(e) = self.flush() {
                tracing::warn!(error = %e, "process table changes not committed yet");
                if stopping {
                    let lost = self.lock_queue().ops.len();
                    tracing::error!(lost, error = %e, "process table changes lost at shutdown");
                    return;
                }
                std::thread::sleep(RETRY);
            }
        }
    }

    fn requeue(&self, ops: Vec<Op>) {
        let mut queue = self.lock_queue();
        for op in ops.into_iter().rev() {
            queue.ops.push_front(op);
        }
    }

    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long the writer thread lets changes gather before it commits them: a few
/// milliseconds of delay for other invocations, one commit for every spawn in that time.
const GATHER: Duration = Duration::from_millis(2);

/// How long the writer thread waits before trying a failed commit again.
const RETRY: Duration = Duration::from_millis(10);

/// Runs `body` in a savepoint of `conn`'s open transaction: what it wrote is kept only if it
/// succeeds. (The statements are kept prepared: this runs for every queued change.)
fn in_savepoint<T>(conn: &Connection, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.prepare_cached("SAVEPOINT queued")?.execute([])?;
    match body(conn) {
        Ok(out) => {
            conn.prepare_cached("RELEASE queued")?.execute([])?;
            Ok(out)
        }
        Err(e) => {
            conn.prepare_cached("ROLLBACK TO queued")?.execute([])?;
            conn.prepare_cached("RELEASE queued")?.execute([])?;
            Err(e)
        }
    }
}
