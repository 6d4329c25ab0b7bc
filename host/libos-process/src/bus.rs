//! The event bus of one host: topics with a bounded history, and waiters parked on them.
//!
//! Every event gets a sequence number per topic; each process remembers, per topic, the
//! sequence it has seen up to, so `wait` returns the next event it has not seen yet (one
//! emitted before it started waiting included, as long as the topic still keeps it). A topic
//! keeps its newest [`KEPT_PER_TOPIC`] events; older ones are dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

/// Events a topic keeps for processes that have not seen them yet.
pub const KEPT_PER_TOPIC: usize = 1024;

/// Largest event payload, in bytes.
pub const MAX_PAYLOAD: usize = 64 << 10;

/// One emitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its topic.
    pub topic: String,
    /// JSON payload.
    pub payload: String,
    /// The emitting process; 0 for the host.
    pub source: u64,
    /// Position in the topic, from 1.
    pub seq: u64,
}

#[derive(Default)]
struct Topic {
    events: VecDeque<Event>,
    next_seq: u64,
}

/// Topics and their waiters.
#[derive(Default)]
pub struct Bus {
    topics: Mutex<HashMap<String, Topic>>,
    emitted: Notify,
}

impl Bus {
    /// Appends an event and wakes every waiter.
    pub fn emit(&self, topic: &str, payload: String, source: u64) {
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let t = topics.entry(topic.to_owned()).or_default();
        t.next_seq += 1;
        t.events.push_back(Event {
            topic: topic.to_owned(),
            payload,
            source,
            seq: t.next_seq,
        });
        while t.events.len() > KEPT_PER_TOPIC {
            t.events.pop_front();
        }
        drop(topics);
        self.emitted.notify_waiters();
    }

    /// The first event on `topic` after sequence `seen` that `accept` takes, if any.
    pub fn next(&self, topic: &str, seen: u64, accept: impl Fn(&Event) -> bool) -> Option<Event> {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        topics
            .get(topic)?
            .events
            .iter()
            .find(|e| e.seq > seen && accept(e))
            .cloned()
    }

    /// Resolves at the next emit on any topic. Create it before checking, then await it.
    pub fn emitted(&self) -> tokio::sync::futures::Notified<'_> {
        self.emitted.notified()
    }
}
