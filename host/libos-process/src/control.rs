//! Controlling running processes: kill, pause, resume, message wake-ups, and applying the
//! same changes made by other `libos` invocations through the shared process table.
//!
//! A change made in this host acts at once. One made elsewhere (`libos kill|pause|resume`
//! from another terminal, a message sent by another host) is written to the table only; every
//! host polls the table every [`TABLE_POLL`] for the processes it runs and applies it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use libos_proctable::MessageBody;

use crate::error::ProcessError;
use crate::kernel::{Inner, Kernel};
use crate::primitives::EXIT_TOPIC;
use crate::status::ExitStatus;

/// How often a host looks at the process table for changes made by other invocations.
pub const TABLE_POLL: Duration = Duration::from_millis(50);

/// How far before the previous poll a poll looks for kills (see `sync_with_table`).
const KILL_SLACK: Duration = Duration::from_secs(2);

/// Every this many polls, a poll looks [`KILL_RESCAN`] back.
const KILL_RESCAN_EVERY: u64 = 200;

/// How far before the previous poll every [`KILL_RESCAN_EVERY`]th poll looks for kills.
const KILL_RESCAN: Duration = Duration::from_secs(60);

impl Kernel {
    /// Polls the process table while the kernel lives, if a tokio runtime is current.
    pub(crate) fn watch_table(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(TABLE_POLL);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                inner.sync_with_table();
                inner.apply_restores().await;
            }
        });
    }

    /// Pauses `pid` and its subtree; returns the pids it paused. A paused process is not
    /// scheduled (its state shows `paused(...)`) until [`Kernel::resume`].
    pub fn pause(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.inner.pause(pid)
    }

    /// Resumes the paused processes of the subtree of `pid`; returns their pids.
    pub fn resume(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.inner.resume(pid)
    }

    /// Queues a message for `pid` from the host (sender 0).
    pub fn send(&self, pid: u64, body: &serde_json::Value) -> Result<(), ProcessError> {
        self.inner
            .deliver(pid, 0, &MessageBody::Data(body.to_string()))
    }
}

impl Inner {
    pub(crate) fn kill(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.table
            .get(pid)
            .map_err(|_| ProcessError::NotFound(format!("process {pid}")))?;
        // The running map stays locked from the kill's commit until each victim is marked,
        // so a task ending meanwhile either recorded its end first (and is not a victim) or
        // sees the mark and leaves its end to the kill (see `finish`).
        let mut running = self.lock_running();
        let killed = self.table.kill_subtree(pid)?;
        for victim in &killed {
            if let Some(r) = running.get_mut(victim) {
                r.killed = true;
                if let Some(abort) = r.abort.take() {
                    abort.abort();
                }
            }
        }
        drop(running);
        // An aborted task never reaches `finish`: what its process left waiting for a person
        // is closed here (for victims other hosts run too: they are killed all the same).
        self.close_requests_of_killed(&killed);
        // Waiters learn the end from the table's state; a task aborted before it recorded
        // anything leaves `Killed` there.
        self.notify_all_killed(&killed);
        Ok(killed)
    }

    pub(crate) fn pause(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        let paused = self.table.pause_subtree(pid)?;
        self.set_paused(&paused, true);
        Ok(paused)
    }

    pub(crate) fn resume(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        let resumed = self.table.resume_subtree(pid)?;
        self.set_paused(&resumed, false);
        Ok(resumed)
    }

    /// Sets the pause flag of each of `pids` this host runs.
    fn set_paused(&self, pids: &[u64], paused: bool) {
        let running = self.lock_running();
        for r in pids.iter().filter_map(|p| running.get(p)) {
            r.pause.set(paused);
        }
        // Looked at by the next poll even if it is resumed elsewhere before then.
        if paused {
            self.lock_last_paused().extend(pids.iter().copied());
        }
    }

    /// Queues `body` for `to` and wakes its `recv` if this host runs it.
    pub(crate) fn deliver(
        &self,
        to: u64,
        from: u64,
        body: &MessageBody,
    ) -> Result<(), ProcessError> {
        self.table.send(to, from, body)?;
        if let Some(r) = self.lock_running().get(&to) {
            r.mail.notify_one();
        }
        Ok(())
    }

    /// The wake-up of `pid`'s message queue, if this host runs it.
    pub(crate) fn mail(&self, pid: u64) -> Option<Arc<tokio::sync::Notify>> {
        self.lock_running().get(&pid).map(|r| Arc::clone(&r.mail))
    }

    /// Applies what other invocations wrote to the table for the processes this host runs:
    /// kills, pauses and resumes, and new messages. The running map stays locked while the
    /// table is read, so a pause or resume made in this host meanwhile is applied after it.
    /// Only the processes named in the table's killed and paused sets (now or at the last
    /// poll) are looked at, so a poll costs the same with 100,000 processes parked; only
    /// new mail wakes every process's `recv`.
    fn sync_with_table(&self) {
        let mut killed_here = Vec::new();
        {
            let mut running = self.lock_running();
            if running.is_empty() {
                return;
            }
            // Kills recorded since shortly before the last poll (a kill from another
            // terminal is seen within one poll, and a stall of this host widens the window
            // with it); every 200th poll (10 s) looks a minute further back, for a kill whose
            // transaction took longer than the slack to commit, and the first poll at all.
            // A mass kill (the end of a large tree) is thus read for about the slack and a
            // few times after, not at every poll while it is recent.
            let polls = self.polls.fetch_add(1, Ordering::Relaxed);
            // The clock the table writes `updated_ns` with.
            let now = u64::try_from(libos_proctable::now_ns()).unwrap_or(0);
            let last = self.last_poll_ns.swap(now, Ordering::Relaxed);
            let back = if polls.is_multiple_of(KILL_RESCAN_EVERY) {
                KILL_RESCAN
            } else {
                KILL_SLACK
            };
            let since = if polls == 0 {
                0
            } else {
                last.saturating_sub(back.as_nanos() as u64)
            };
            let Ok(stopped) = self.table.stopped_since(&self.host_id, since) else {
                return;
            };
            if let Ok(newest) = self.table.last_event() {
                self.bus.catch_up(newest);
            }
            let new_mail = self
                .table
                .last_message()
                .ok()
                .is_some_and(|last| self.last_message.swap(last, Ordering::Relaxed) != last);
            for pid in &stopped.killed {
                let Some(r) = running.get_mut(pid) else {
                    continue;
                };
                if let Some(abort) = r.abort.take() {
                    r.killed = true;
                    abort.abort();
                    killed_here.push(*pid);
                }
            }
            let paused: HashSet<u64> = stopped.paused.into_iter().collect();
            let mut last_paused = self.lock_last_paused();
            for pid in paused.iter().chain(last_paused.iter()) {
                if let Some(r) = running.get(pid).filter(|r| r.abort.is_some()) {
                    let should_pause = paused.contains(pid);
                    if r.pause.is_set() != should_pause {
                        r.pause.set(should_pause);
                    }
                }
            }
            *last_paused = paused;
            if new_mail {
                for r in running.values().filter(|r| r.abort.is_some()) {
                    r.mail.notify_one();
                }
            }
        }
        self.close_requests_of_killed(&killed_here);
        self.notify_all_killed(&killed_here);
    }

    fn lock_last_paused(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.last_paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores an event and wakes this host's waiters.
    pub(crate) fn emit(&self, topic: &str, payload: &str, source: u64) -> Result<(), ProcessError> {
        let id = self.table.emit(topic, payload, source)?;
        self.bus.stored(id, topic);
        Ok(())
    }

    /// Emits the end of `pid` on the exit topic, where its parent can wait for it.
    pub(crate) fn announce_exit(&self, pid: u64, status: &ExitStatus) {
        if let Err(e) = self.emit(EXIT_TOPIC, &exit_payload(pid, status), 0) {
            tracing::error!(pid, error = %e, "the exit notice of a process was not stored");
        }
    }

    /// Announces the kill of each of `pids` this host runs, and drops it from the running
    /// map: its waiters learn the end from the table (the sender of its exit lives in the
    /// aborted task, so their receivers close).
    ///
    /// The notices of all `pids` are stored in one transaction: killing a tree of 100,000
    /// is one commit, not 100,000 that would keep every other writer of the state directory
    /// (the audit log's among them) waiting for the database.
    fn notify_all_killed(&self, pids: &[u64]) {
        let mut ended = Vec::new();
        let mut removed = Vec::new();
        {
            let mut running = self.lock_running();
            for pid in pids {
                if let Some(r) = running.remove(pid) {
                    if r.exit.borrow().is_none() {
                        self.lock_recent().record(*pid, &ExitStatus::Killed);
                        ended.push(exit_payload(*pid, &ExitStatus::Killed));
                    }
                    removed.push(r);
                }
            }
        }
        // Their admissions and stores go outside the lock.
        drop(removed);
        match self.table.emit_all(EXIT_TOPIC, &ended, 0) {
            Ok(Some(newest)) => self.bus.stored(newest, EXIT_TOPIC),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, killed = ended.len(), "the exit notices of killed processes were not stored");
            }
        }
    }
}

/// The payload of the exit notice of `pid`: `{"pid": N, "status": ...}`.
pub(crate) fn exit_payload(pid: u64, status: &ExitStatus) -> String {
    serde_json::json!({ "pid": pid, "status": status }).to_string()
}
