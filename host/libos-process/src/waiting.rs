//! Wakes the processes of this host that wait for a person.
//!
//! People decide in another terminal (`libos approve|deny|answer`), which writes the human
//! queue only. While any process of this host waits for a decision, a watcher looks at the
//! queue's newest decision time every [`HUMAN_POLL`] (one index lookup) and wakes the waiters
//! when it moved; each then reads its own request. With nobody waiting it does not look.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::kernel::Inner;

/// How often the queue is looked at while someone waits for a person.
pub const HUMAN_POLL: Duration = Duration::from_millis(5);

/// The waiters of this host and what they last saw.
#[derive(Default)]
pub(crate) struct HumanWaiters {
    /// Processes waiting now.
    waiting: AtomicUsize,
    /// Wakes the watcher when the first one starts waiting.
    first: Notify,
    /// Wakes the waiters when a decision was made.
    decided: Notify,
    /// The newest decision time seen.
    seen: AtomicU64,
}

/// One process waiting; counted until dropped (also when its task is aborted mid-wait).
pub(crate) struct Waiting<'a>(&'a HumanWaiters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HumanWaiters {
    /// Counts a waiter in (and wakes the watcher).
    pub(crate) fn enter(&self) -> Waiting<'_> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) == 0 {
            self.first.notify_one();
        }
        Waiting(self)
    }

    /// Resolves at the next decision seen. Create it before reading the request.
    pub(crate) fn decided(&self) -> tokio::sync::futures::Notified<'_> {
        self.decided.notified()
    }
}

impl Inner {
    /// The watcher (see the module docs); runs while the kernel lives.
    pub(crate) fn watch_decisions(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(self);
        let waiters = Arc::clone(&self.human_waiters);
        runtime.spawn(async move {
            loop {
                if waiters.waiting.load(Ordering::Acquire) == 0 {
                    // Nobody waits: sleep until someone does (or a while, to notice the
                    // kernel going away).
                    let first = waiters.first.notified();
                    let _ = tokio::time::timeout(Duration::from_secs(1), first).await;
                    if weak.strong_count() == 0 {
                        break;
                    }
                    continue;
                }
                let Some(inner) = weak.upgrade() else { break };
                match inner.human.last_decided() {
                    Ok(newest) if newest > waiters.seen.load(Ordering::Acquire) => {
                        waiters.seen.store(newest, Ordering::Release);
                        waiters.decided.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "human queue not readable"),
                }
                drop(inner);
                tokio::time::sleep(HUMAN_POLL).await;
            }
        });
    }
}
