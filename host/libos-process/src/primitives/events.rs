//! `libos:runtime/events`: emit and wait by topic.
//!
//! `events.emit` / `events.wait` are decided with the topic as resource. Topic
//! [`EXIT_TOPIC`] carries the host's notice of every process's end; a process may wait on it
//! without a capability and sees only its own children's exits.

use std::time::Duration;

use libos::bindings::{LimitKind, RuntimeError};
use libos_kernel::BlockedOn;

use crate::bindings::libos::runtime::events::{Event, Host};
use crate::bus::{self, MAX_PAYLOAD};
use crate::ctx::ProcessCtx;

/// Topic of process exits: payload `{"pid": N, "status": ...}`, source 0.
pub const EXIT_TOPIC: &str = "process.exit";

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

fn valid_topic(topic: &str) -> Result<(), RuntimeError> {
    let ok = !topic.is_empty()
        && topic.len() <= 128
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::Invalid(format!(
            "topic {topic:?} is not 1-128 characters of [A-Za-z0-9._-]"
        )))
    }
}

impl ProcessCtx {
    /// Whether this process may see `event` on `topic`.
    fn sees(&self, event: &bus::Event) -> bool {
        if event.topic != EXIT_TOPIC {
            return true;
        }
        let child = serde_json::from_str::<serde_json::Value>(&event.payload)
            .ok()
            .and_then(|v| v["pid"].as_u64());
        child.is_some_and(|pid| {
            self.kernel
                .table
                .get(pid)
                .is_ok_and(|r| r.parent == Some(self.pid))
        })
    }
}

impl Host for ProcessCtx {
    fn emit(&mut self, topic: String, payload: String) -> R<()> {
        if let Err(e) = valid_topic(&topic) {
            return Ok(Err(e));
        }
        if topic == EXIT_TOPIC {
            return Ok(Err(self.call.refuse(
                "events.emit",
                &topic,
                format!("only the host emits on {EXIT_TOPIC}"),
            )));
        }
        if let Err(e) = self.call.authorize("events.emit", &topic, None) {
            return Ok(Err(e));
        }
        if payload.len() > MAX_PAYLOAD {
            return Ok(Err(RuntimeError::LimitExceeded(LimitKind::Output)));
        }
        if serde_json::from_str::<serde_json::Value>(&payload).is_err() {
            return Ok(Err(RuntimeError::Invalid("payload is not JSON".into())));
        }
        self.kernel.bus.emit(&topic, payload, self.pid);
        Ok(Ok(()))
    }

    async fn wait(&mut self, topic: String, timeout_ms: Option<u64>) -> R<Option<Event>> {
        if let Err(e) = valid_topic(&topic) {
            return Ok(Err(e));
        }
        if topic != EXIT_TOPIC
            && let Err(e) = self.call.authorize("events.wait", &topic, None)
        {
            return Ok(Err(e));
        }
        let deadline = timeout_ms.map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
        let mut blocked = false;
        let kernel = std::sync::Arc::clone(&self.kernel);
        let found = loop {
            let bus = &kernel.bus;
            let emitted = bus.emitted();
            let seen = self.seen.get(&topic).copied().unwrap_or(0);
            if let Some(event) = bus.next(&topic, seen, |e| self.sees(e)) {
                break Some(event);
            }
            if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                break None;
            }
            if !blocked {
                blocked = true;
                self.block(BlockedOn::Event(topic.clone()));
            }
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, emitted).await.is_err() {
                        break None;
                    }
                }
                None => emitted.await,
            }
        };
        if blocked {
            self.unblock();
        }
        Ok(Ok(found.map(|event| {
            self.seen.insert(topic.clone(), event.seq);
            Event {
                topic: event.topic,
                payload: event.payload,
                source: event.source,
            }
        })))
    }
}
