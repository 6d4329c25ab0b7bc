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

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use libos_db::SharedConnection;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{KernelError, Result};
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
    /// Record what `pid` has spent so far (see `ProcessTable::set_usage_behind`).
    Usage { pid: u64, usage: Usage },
    /// End `pid` with its exit notice and final usage (see `ProcessTable::end_behind`).
    End {
        pid: u64,
        end: State,
        topic: String,
        payload: String,
        usage: Option<Usage>,
        /// Lines (level, message) of what its last instance printed, stored with the end.
        output: Vec<(String, String)>,
        done: Option<EndDone>,
    },
}

impl Op {
    /// The process the change is about.
    fn pid(&self) -> u64 {
        match self {
            Op::Start { pid, .. }
            | Op::Advance { pid, .. }
            | Op::Usage { pid, .. }
            | Op::End { pid, .. } => *pid,
        }
    }

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
            Op::Usage { pid, usage } => crate::usage::set(conn, *pid, usage).map(|()| *pid),
            Op::End {
                pid,
                end,
                topic,
                payload,
                usage,
                output,
                ..
            } => {
                let event = write::end(conn, *pid, end, (topic, payload), usage.as_ref())?;
                if !output.is_empty() {
                    let lines: Vec<(&str, &str)> = output
                        .iter()
                        .map(|(level, line)| (level.as_str(), line.as_str()))
                        .collect();
                    crate::logs::append(conn, *pid, &lines)?;
                }
                Ok(event)
            }
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
            Op::Usage { pid, .. } => {
                if let Err(e) = outcome {
                    tracing::warn!(pid, error = %e, "usage not recorded");
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
    /// The writer thread waits for a change to be queued (and must be woken for it).
    idle: bool,
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

    /// Queues `op` for the writer thread (waking it only if it sleeps waiting for work: a
    /// wake is a system call, and while it gathers it will look anyway).
    pub(crate) fn post(&self, op: Op) {
        let mut queue = self.lock_queue();
        queue.ops.push_back(op);
        if queue.idle {
            queue.idle = false;
            self.wake.notify_one();
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction after every queued change, committing
    /// only if it succeeds. The queued changes are committed either way (each that fails is
    /// rolled back alone and reported to its waiter); if the commit itself fails they stay
    /// queued, in order.
    pub(crate) fn transaction<T>(&self, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock();
        let ops: Vec<Op> = self.lock_queue().ops.drain(..).collect();
        if ops.is_empty() {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = body(&tx)?;
            tx.commit()?;
            return Ok(out);
        }
        // Normally every change applies: record them without a savepoint each, whole
        // lifetimes as one. If one is refused (a kill raced it), start over and record them
        // one by one, each in its own savepoint, as they would have been without batching.
        let (tx, outcomes) = match apply_batch(&conn, &ops) {
            Ok(done) => done,
            // (The failed transaction was dropped, rolled back, as `apply_batch` returned.)
            Err(_) => match apply_each(&conn, &ops) {
                Ok(done) => done,
                Err(e) => {
                    self.requeue(ops);
                    return Err(e);
                }
            },
        };
        let out = in_savepoint(&tx, body);
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

    /// Commits whatever is queued. Returns once everything queued before the call is
    /// committed, including changes the writer thread has already taken from the queue and
    /// is committing (it holds the connection until its commit is done).
    pub(crate) fn flush(&self) -> Result<()> {
        if self.lock_queue().ops.is_empty() {
            drop(self.conn.lock());
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
        let mut queue = self.lock_queue();
        queue.stop = true;
        queue.idle = false;
        self.wake.notify_one();
    }

    /// The writer thread: commits what is queued as it comes, until stopped.
    pub(crate) fn write_behind(&self) {
        loop {
            let stopping = {
                let mut queue = self.lock_queue();
                while queue.ops.is_empty() && !queue.stop {
                    queue.idle = true;
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                queue.idle = false;
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

/// What a batch of queued changes commits: each change alone, or a process's whole lifetime
/// (its start, its own state changes and its end, all queued in this batch) as one.
enum Apply {
    One(usize),
    Lifetime {
        start: usize,
        advances: Vec<usize>,
        end: usize,
    },
}

/// Orders the changes of `ops` for [`apply_batch`]: in queue order, except that a process
/// started and ended within the batch is recorded at its end, in one piece, unless a child
/// was started under it meanwhile (whose start reads the parent's row).
fn plan(ops: &[Op]) -> Vec<Apply> {
    let mut started: HashMap<u64, (usize, Vec<usize>, bool)> = HashMap::new();
    let mut lifetimes = HashMap::new();
    for (at, op) in ops.iter().enumerate() {
        match op {
            Op::Start { pid, new } => {
                if let Some(open) = new.parent.and_then(|p| started.get_mut(&p)) {
                    open.2 = false;
                }
                started.insert(*pid, (at, Vec::new(), true));
            }
            Op::Advance { pid, .. } => {
                if let Some(open) = started.get_mut(pid) {
                    open.1.push(at);
                }
            }
            // Its own row: recorded in queue order, whatever becomes of the lifetime.
            Op::Usage { .. } => {}
            Op::End { pid, .. } => {
                if let Some((start, advances, true)) = started.remove(pid) {
                    lifetimes.insert(at, (start, advances));
                }
            }
        }
    }
    let mut folded = vec![false; ops.len()];
    for (start, advances) in lifetimes.values() {
        folded[*start] = true;
        for at in advances {
            folded[*at] = true;
        }
    }
    let mut plan = Vec::with_capacity(ops.len());
    for (at, folded) in folded.into_iter().enumerate() {
        if let Some((start, advances)) = lifetimes.remove(&at) {
            plan.push(Apply::Lifetime {
                start,
                advances,
                end: at,
            });
        } else if !folded {
            plan.push(Apply::One(at));
        }
    }
    plan
}

/// Records `ops` in a new transaction following [`plan`], failing at the first change that
/// is refused (the transaction is then dropped: nothing is kept). Returns the open
/// transaction and the outcome of every change.
fn apply_batch<'c>(
    conn: &'c Connection,
    ops: &[Op],
) -> Result<(Transaction<'c>, Vec<Result<u64>>)> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut outcomes: Vec<Option<Result<u64>>> = (0..ops.len()).map(|_| None).collect();
    for step in plan(ops) {
        match step {
            Apply::One(at) => outcomes[at] = Some(Ok(ops[at].apply(&tx)?)),
            Apply::Lifetime {
                start,
                advances,
                end,
            } => {
                let id = apply_lifetime(&tx, ops, start, &advances, end)?;
                let pid = ops[start].pid();
                outcomes[start] = Some(Ok(pid));
                for at in advances {
                    outcomes[at] = Some(Ok(pid));
                }
                outcomes[end] = Some(Ok(id));
            }
        }
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(KernelError::Store("change not applied".into()))))
        .collect();
    Ok((tx, outcomes))
}

/// Records the lifetime `ops[start]`, `ops[advances]`, `ops[end]` with [`write::lifetime`].
fn apply_lifetime(
    conn: &Connection,
    ops: &[Op],
    start: usize,
    advances: &[usize],
    end: usize,
) -> Result<u64> {
    let (
        Op::Start { pid, new },
        Op::End {
            end: state,
            topic,
            payload,
            usage,
            ..
        },
    ) = (&ops[start], &ops[end])
    else {
        return Err(KernelError::Store("malformed lifetime".into()));
    };
    let mut path = Vec::new();
    for at in advances {
        if let Op::Advance { path: steps, .. } = &ops[*at] {
            path.extend(steps.iter());
        }
    }
    write::lifetime(
        conn,
        *pid,
        new,
        &path,
        (state, (topic, payload), usage.as_ref()),
    )
}

/// Records `ops` in a new transaction one by one, each in its own savepoint (a refused
/// change is rolled back alone). Returns the open transaction and every outcome.
fn apply_each<'c>(conn: &'c Connection, ops: &[Op]) -> Result<(Transaction<'c>, Vec<Result<u64>>)> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for op in ops {
        outcomes.push(in_savepoint(&tx, |conn| op.apply(conn)));
    }
    Ok((tx, outcomes))
}
