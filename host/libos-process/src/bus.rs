//! Wakes the processes of this host that wait on events, by topic.
//!
//! Events themselves are stored in the process table (`libos_proctable::events`), so an event
//! emitted by another `libos` invocation reaches this host's waiters too. The bus only tells
//! waiters to look again: those of the event's topic at once after an emit in this host
//! (an event, such as every process's exit notice, wakes no waiter of another topic), and
//! every waiter within one table poll after an emit elsewhere, whose topic this host does not
//! know (see `control.rs`). A waiter looks at the table only when its topic (or an unknown
//! one) has an event newer than what it has seen: waking 100,000 waiters of one topic costs
//! 100,000 looks, and an exit among them costs none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The wake-up of this host's event waiters.
#[derive(Default)]
pub struct Bus {
    /// The topics some process of this host waits on.
    topics: Mutex<HashMap<String, Arc<TopicBus>>>,
    /// The newest event id this host knows of, on any topic.
    newest: AtomicU64,
    /// The newest event id stored by another invocation, whose topic is not known here.
    foreign: AtomicU64,
}

/// One process waiting on a topic (see [`Bus::topic`]).
pub struct Waiting<'b> {
    bus: &'b Bus,
    topic: String,
    on: Option<Arc<TopicBus>>,
}

impl std::ops::Deref for Waiting<'_> {
    type Target = TopicBus;

    fn deref(&self) -> &TopicBus {
        // Set from creation until drop.
        self.on.as_deref().unwrap_or(&IDLE)
    }
}

/// A topic bus nobody is woken through (never reached: see `Deref for Waiting`).
static IDLE: std::sync::LazyLock<TopicBus> = std::sync::LazyLock::new(TopicBus::default);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut topics = self.bus.lock();
        drop(self.on.take());
        if topics
            .get(&self.topic)
            .is_some_and(|b| Arc::strong_count(b) == 1)
        {
            topics.remove(&self.topic);
        }
    }
}

/// The wake-up of the waiters of one topic.
#[derive(Default)]
pub struct TopicBus {
    emitted: Notify,
    /// The newest event id this host stored on the topic.
    newest: AtomicU64,
}

impl Bus {
    /// A bus for a host starting when the newest stored event is `newest`.
    pub fn starting_at(newest: u64) -> Self {
        Bus {
            topics: Mutex::default(),
            newest: AtomicU64::new(newest),
            foreign: AtomicU64::new(0),
        }
    }

    /// The newest event id this host knows of.
    pub fn newest(&self) -> u64 {
        self.newest.load(Ordering::Relaxed)
    }

    /// Event `id` on `topic` has been stored: wakes the waiters of `topic`.
    pub fn stored(&self, id: u64, topic: &str) {
        self.newest.fetch_max(id, Ordering::Relaxed);
        let waiting = self.lock().get(topic).map(Arc::clone);
        if let Some(bus) = waiting {
            bus.newest.fetch_max(id, Ordering::Relaxed);
            bus.emitted.notify_waiters();
        }
    }

    /// Wakes every waiter if `newest` (the table's newest event id) is newer than any event
    /// this host knows of: another invocation emitted, on a topic not known here.
    pub fn catch_up(&self, newest: u64) {
        if self.newest.fetch_max(newest, Ordering::Relaxed) < newest {
            self.foreign.fetch_max(newest, Ordering::Relaxed);
            let all: Vec<Arc<TopicBus>> = self.lock().values().map(Arc::clone).collect();
            for bus in all {
                bus.emitted.notify_waiters();
            }
        }
    }

    /// The wake-up of `topic`'s waiters, for a process about to wait on it; held while it
    /// waits. Dropping it (the wait ended, or the process was killed in it) forgets the topic
    /// when no one else waits on it.
    pub fn topic(&self, topic: &str) -> Waiting<'_> {
        let mut topics = self.lock();
        let on = match topics.get(topic) {
            Some(bus) => Arc::clone(bus),
            None => {
                let bus = Arc::new(TopicBus {
                    emitted: Notify::new(),
                    // What was stored before anyone waited here is found in the table by the
                    // first look (see `may_have_after`).
                    newest: AtomicU64::new(self.newest()),
                });
                topics.insert(topic.to_owned(), Arc::clone(&bus));
                bus
            }
        };
        Waiting {
            bus: self,
            topic: topic.to_owned(),
            on: Some(on),
        }
    }

    /// Whether an event after `seen` may be stored on the topic of `bus`: one stored on it
    /// here, or one stored by another invocation.
    pub fn may_have_after(&self, bus: &TopicBus, seen: u64) -> bool {
        bus.newest.load(Ordering::Relaxed) > seen || self.foreign.load(Ordering::Relaxed) > seen
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<TopicBus>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TopicBus {
    /// Resolves at the next wake-up of the topic. Create it before checking the table, then
    /// await it.
    pub fn emitted(&self) -> tokio::sync::futures::Notified<'_> {
        self.emitted.notified()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    #[test]
    fn an_event_wakes_only_its_topics_waiters_and_a_foreign_one_wakes_all() {
        let bus = Bus::starting_at(10);
        let a = bus.topic("a");
        let b = bus.topic("b");
        assert!(!bus.may_have_after(&a, 10), "nothing new yet");
        let woken_a = a.emitted();
        let woken_b = b.emitted();
        tokio::pin!(woken_a, woken_b);
        woken_a.as_mut().enable();
        woken_b.as_mut().enable();
        bus.stored(11, "a");
        assert!(bus.may_have_after(&a, 10));
        assert!(!bus.may_have_after(&b, 10), "b has nothing new");
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(woken_a.as_mut().poll(&mut cx).is_ready());
        assert!(woken_b.as_mut().poll(&mut cx).is_pending());
        // Another invocation stored event 12 on some topic: everyone looks.
        bus.catch_up(12);
        assert!(woken_b.as_mut().poll(&mut cx).is_ready());
        assert!(bus.may_have_after(&b, 11));
    }

    #[test]
    fn a_topic_is_forgotten_when_its_last_waiter_leaves() {
        let bus = Bus::starting_at(0);
        let first = bus.topic("t");
        let second = bus.topic("t");
        drop(first);
        assert!(bus.lock().contains_key("t"), "still waited on");
        drop(second);
        assert!(bus.lock().is_empty());
        // An event on a topic nobody waits on wakes nothing and is not remembered by topic.
        bus.stored(5, "t");
        assert!(bus.lock().is_empty());
        assert_eq!(bus.newest(), 5);
        // A later waiter still looks at the table for it.
        let late = bus.topic("t");
        assert!(bus.may_have_after(&late, 4));
    }
}
