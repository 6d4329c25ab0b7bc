//! Wakes the processes of this host that wait on events.
//!
//! Events themselves are stored in the process table (`libos_proctable::events`), so an event
//! emitted by another `libos` invocation reaches this host's waiters too. The bus only tells
//! waiters to look again: at once after an emit in this host, and within one table poll after
//! an emit elsewhere (see `control.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// The wake-up of this host's event waiters.
#[derive(Default)]
pub struct Bus {
    emitted: Notify,
    /// The newest event id this host knows of.
    newest: AtomicU64,
}

impl Bus {
    /// A bus for a host starting when the newest stored event is `newest`.
    pub fn starting_at(newest: u64) -> Self {
        Bus {
            emitted: Notify::new(),
            newest: AtomicU64::new(newest),
        }
    }

    /// The newest event id this host knows of.
    pub fn newest(&self) -> u64 {
        self.newest.load(Ordering::Relaxed)
    }

    /// Wakes every waiter: event `id` has been stored.
    pub fn stored(&self, id: u64) {
        self.newest.fetch_max(id, Ordering::Relaxed);
        self.emitted.notify_waiters();
    }

    /// Wakes every waiter if `newest` (the table's newest event id) is newer than any event
    /// this host knows of: another invocation emitted.
    pub fn catch_up(&self, newest: u64) {
        if self.newest.fetch_max(newest, Ordering::Relaxed) < newest {
            self.emitted.notify_waiters();
        }
    }

    /// Resolves at the next wake-up. Create it before checking the table, then await it.
    pub fn emitted(&self) -> tokio::sync::futures::Notified<'_> {
        self.emitted.notified()
    }
}
