//! The bounded hand-off between appending threads and the writer thread.
//!
//! Appending is a push under an uncontended mutex; the writer is woken only when it is idle,
//! so a burst of appends costs one wake-up, not one per record. Once woken, the writer lingers
//! up to [`LINGER`] (or until [`LINGER_RECORDS`] are queued, or someone flushes) so that a burst
//! becomes one batch and the appending threads run undisturbed meanwhile. The queue holds at most
//! [`CAPACITY`] records: when the writer falls that far behind, appenders wait for it, so a
//! guest calling primitives in a tight loop is slowed to the rate the log can be written at
//! instead of growing the host's memory without bound.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::batch::Batch;
use crate::error::AuditError;
use crate::record::AuditRecord;

/// Most records queued before appenders wait for the writer.
pub(crate) const CAPACITY: usize = 64 * 1024;

/// Longest time a queued record waits before the writer takes it (unless flushed sooner).
pub(crate) const LINGER: Duration = Duration::from_millis(2);

/// Queued records at which a lingering writer stops waiting and takes them.
pub(crate) const LINGER_RECORDS: usize = 4096;

/// Called once for one flush, with its outcome, on the writer's thread (it must not block).
pub(crate) type FlushReply = Box<dyn FnOnce(Result<(), AuditError>) + Send>;

/// What the writer takes in one go.
pub(crate) struct Work {
    pub(crate) flushes: Vec<FlushReply>,
    /// Set when the log is closing and nothing more will be appended.
    pub(crate) closing: bool,
}

/// What appenders queue: one record, or a batch of them (built into records by the writer).
pub(crate) enum Item {
    Record(AuditRecord),
    Batch(Batch),
}

impl Item {
    /// Moves the records of this item, in order, to the end of `into`.
    pub(crate) fn drain_into(self, into: &mut Vec<AuditRecord>) {
        match self {
            Item::Record(record) => into.push(record),
            Item::Batch(mut batch) => batch.drain_into(into),
        }
    }
}

#[derive(Default)]
struct State {
    items: Vec<Item>,
    /// Records held by `items`.
    queued: usize,
    flushes: Vec<FlushReply>,
    /// The writer is waiting for work and must be woken by the next append.
    writer_idle: bool,
    /// The writer is letting a burst accumulate; wake it only for a flush, a close, or a
    /// full batch.
    lingering: bool,
    /// The log is being closed.
    closing: bool,
    /// The writer thread has stopped (normally or by panicking); appends cannot be written.
    writer_gone: bool,
    /// Records that could not be written because the writer was gone, not yet reported.
    lost: u64,
    /// Why the writer's last round failed, while it has not since committed one.
    failing: Option<String>,
    /// Why the stored log is damaged (found by the check at open); never cleared.
    damaged: Option<String>,
}

/// The queue shared by the log handle and its writer thread.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<State>,
    /// Signalled when there is work for an idle writer.
    work: Condvar,
    /// Signalled when the writer has taken records (there is room again) or is gone.
    room: Condvar,
    /// Set while `State::failing` is (read without the lock on every decision).
    failing: AtomicBool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a plain buffer that every critical section leaves consistent, so a
        // panic elsewhere while holding the lock does not invalidate it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `record`, waiting while the queue is full. If the writer is gone the record is
    /// counted as lost instead, and the next flush reports it.
    pub(crate) fn push(&self, record: AuditRecord) {
        self.enqueue(1, |queued| queued.push(Item::Record(record)));
    }

    /// Queues all of `records` (leaving it empty) as [`Queue::push`] does for one.
    pub(crate) fn push_all(&self, records: &mut Vec<AuditRecord>) {
        if !records.is_empty() {
            let count = records.len();
            self.enqueue(count, |queued| {
                queued.extend(records.drain(..).map(Item::Record));
            });
        }
        records.clear();
    }

    /// Queues the records of `batch` (leaving it empty) as [`Queue::push`] does for one; the
    /// batch itself is moved, not copied.
    pub(crate) fn push_batch(&self, batch: &mut Batch) {
        if !batch.is_empty() {
            let count = batch.len();
            let whole = std::mem::take(batch);
            self.enqueue(count, |queued| queued.push(Item::Batch(whole)));
        }
    }

    /// Queues the records of `batch` (as [`Queue::push_batch`]) and, under the same lock, a
    /// flush answered by `reply`: the records and the flush reach the writer in one round, so
    /// whether they were stored is what `reply` is told.
    pub(crate) fn push_batch_and_flush(&self, batch: &mut Batch, reply: FlushReply) {
        let count = batch.len();
        let whole = std::mem::take(batch);
        let mut state = self.lock_with_room();
        if state.writer_gone {
            state.lost += count as u64;
            let lost = std::mem::take(&mut state.lost);
            drop(state);
            reply(Err(AuditError::WriterGone { lost }));
            return;
        }
        if count > 0 {
            state.items.push(Item::Batch(whole));
            state.queued += count;
        }
        state.flushes.push(reply);
        self.wake_writer(&mut state, true);
    }

    /// The lock, once the queue has room (or the writer is gone).
    fn lock_with_room(&self) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        while state.queued >= CAPACITY && !state.writer_gone {
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state
    }

    /// Waits for room, then lets `add` append `count` records to the queue and wakes the
    /// writer if needed; counts them as lost if the writer is gone.
    fn enqueue(&self, count: usize, add: impl FnOnce(&mut Vec<Item>)) {
        let mut state = self.lock_with_room();
        if state.writer_gone {
            state.lost += count as u64;
            return;
        }
        add(&mut state.items);
        state.queued += count;
        let urgent = state.queued >= LINGER_RECORDS;
        self.wake_writer(&mut state, urgent);
    }

    /// Asks the writer to call `reply` once everything queued so far is committed. If the
    /// writer is gone, calls it at once with that error and the records lost since the last
    /// report.
    pub(crate) fn flush(&self, reply: FlushReply) {
        let mut state = self.lock();
        if state.writer_gone {
            let lost = std::mem::take(&mut state.lost);
            drop(state);
            reply(Err(AuditError::WriterGone { lost }));
            return;
        }
        state.flushes.push(reply);
        self.wake_writer(&mut state, true);
    }

    /// Why the log cannot be written now: the writer is gone, or its last round of batches
    /// failed and none has committed since. `None` while records are being stored.
    pub(crate) fn failing(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        let state = self.lock();
        if state.writer_gone {
            return Some("the audit writer has stopped".into());
        }
        state.damaged.clone().or_else(|| state.failing.clone())
    }

    /// The stored log is damaged (`why`): the log fails from now on, whatever commits.
    pub(crate) fn set_damaged(&self, why: String) {
        let mut state = self.lock();
        state.damaged = Some(why);
        self.failing.store(true, Ordering::Release);
    }

    /// Writer side: the outcome of a round of batches (`None`: all committed).
    pub(crate) fn set_failing(&self, why: Option<String>) {
        let mut state = self.lock();
        self.failing
            .store(why.is_some() || state.damaged.is_some(), Ordering::Release);
        state.failing = why;
    }

    /// Tells the writer to finish what is queued and stop.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closing = true;
        self.wake_writer(&mut state, true);
    }

    /// Wakes an idle writer; wakes a lingering one only if `urgent`.
    fn wake_writer(&self, state: &mut State, urgent: bool) {
        if state.writer_idle || (urgent && state.lingering) {
            state.writer_idle = false;
            state.lingering = false;
            self.work.notify_one();
        }
    }

    /// Writer side: waits for work, then moves the queued items into `into` (which must be
    /// empty) and returns the flushes to answer once they are written.
    pub(crate) fn take(&self, into: &mut Vec<Item>) -> Work {
        let mut state = self.lock();
        while state.items.is_empty() && state.flushes.is_empty() && !state.closing {
            state.writer_idle = true;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.writer_idle = false;
        let deadline = Instant::now() + LINGER;
        while state.flushes.is_empty() && !state.closing && state.queued < LINGER_RECORDS {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state.lingering = true;
            state = self
                .work
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.lingering = false;
        std::mem::swap(&mut state.items, into);
        state.queued = 0;
        let work = Work {
            flushes: std::mem::take(&mut state.flushes),
            closing: state.closing && state.items.is_empty(),
        };
        drop(state);
        self.room.notify_all();
        work
    }

    /// Writer side: marks the writer as gone (it returned or is unwinding), so appenders stop
    /// waiting and count their records as lost; records still queued are lost too, and
    /// pending flushes are answered with the loss.
    pub(crate) fn writer_stopped(&self) {
        let mut state = self.lock();
        state.writer_gone = true;
        self.failing.store(true, Ordering::Release);
        state.lost += state.queued as u64;
        state.items = Vec::new();
        state.queued = 0;
        let pending = std::mem::take(&mut state.flushes);
        let lost = if pending.is_empty() {
            0
        } else {
            std::mem::take(&mut state.lost)
        };
        drop(state);
        self.room.notify_all();
        for reply in pending {
            reply(Err(AuditError::WriterGone { lost }));
        }
    }
}
