//! `libos:runtime/events`: emit and wait by topic.
//!
//! `events.emit` / `events.wait` are decided with the topic as resource. Topic
//! [`EXIT_TOPIC`] carries the host's notice of every process's end; a process may wait on it
//! without a capability and sees only its own children's exits.

use std::time::Duration;

use libos::bindings::{LimitKind, RuntimeError};
use libos::wasm::parking::parking;
use libos_proctable::BlockedOn;

use libos_proctable::events::MAX_PAYLOAD;

use crate::bindings::libos::runtime::events::{Event, Host};
use crate::bus::TopicBus;
use crate::ctx::ProcessCtx;
use crate::error::ProcessError;

pub use libos_proctable::events::EXIT_TOPIC;

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

fn valid_topic(topic: &str) -> Result<(), RuntimeError> {
    libos_proctable::events::check_topic(topic).map_err(RuntimeError::Invalid)
}

impl ProcessCtx {
    /// Whether this process may see `event` on `topic`.
    fn sees(&self, event: &libos_proctable::Event) -> bool {
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

impl ProcessCtx {
    /// The first stored event on `topic` after the last one this process saw (or, on a topic
    /// it has not waited on, after the newest one when it started) that it may see. Events it
    /// may not see are passed over for good: a process's children only grow, so an exit
    /// notice that is not its child's now never will be.
    fn next_event(
        &mut self,
        topic: &str,
        bus: &TopicBus,
    ) -> Result<Option<libos_proctable::Event>, ProcessError> {
        const PAGE: usize = 64;
        loop {
            let seen = self.seen.get(topic).copied().unwrap_or(self.events_from);
            if !self.kernel.bus.may_have_after(bus, seen) {
                // Nothing stored on it since: no query (a parked waiter's stack stays
                // shallow, and waking on another topic's event costs nothing).
                return Ok(None);
            }
            let page = self.kernel.table.events(Some(topic), seen, PAGE)?;
            let Some(last) = page.last().map(|e| e.id) else {
                return Ok(None);
            };
            if let Some(event) = page.into_iter().find(|e| self.sees(e)) {
                return Ok(Some(event));
            }
            self.seen.insert(topic.to_owned(), last);
        }
    }
}

impl Host for ProcessCtx {
    async fn emit(&mut self, topic: String, payload: String) -> R<()> {
        self.emit_checked(topic, payload).await
    }

    async fn wait(&mut self, topic: String, timeout_ms: Option<u64>) -> R<Option<Event>> {
        parking(self.wait_for_event(topic, timeout_ms)).await
    }
}

impl ProcessCtx {
    async fn emit_checked(&mut self, topic: String, payload: String) -> R<()> {
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
        let digest = libos::call::digest(&[b"events.emit", topic.as_bytes(), payload.as_bytes()]);
        let permit = match self.call.permit("events.emit", &topic, Some(&digest)) {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        if payload.len() > MAX_PAYLOAD {
            return Ok(Err(RuntimeError::LimitExceeded(LimitKind::Output)));
        }
        if serde_json::from_str::<serde_json::Value>(&payload).is_err() {
            return Ok(Err(RuntimeError::Invalid("payload is not JSON".into())));
        }
        if !self.emits.take() {
            return Ok(Err(RuntimeError::LimitExceeded(LimitKind::Output)));
        }
        if let Err(e) = self.call.record_stored().await {
            return Ok(Err(e));
        }
        match self.kernel.emit(&topic, &payload, self.pid) {
            Ok(()) => {
                permit.done(None);
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(RuntimeError::Io(e.to_string()))),
        }
    }

    async fn wait_for_event(&mut self, topic: String, timeout_ms: Option<u64>) -> R<Option<Event>> {
        if let Err(e) = valid_topic(&topic) {
            return Ok(Err(e));
        }
        if topic != EXIT_TOPIC {
            match self.call.permit("events.wait", &topic, None) {
                // Waiting takes only what was emitted: nothing to give back.
                Ok(permit) => permit.done(None),
                Err(e) => return Ok(Err(e)),
            }
        }
        let deadline = timeout_ms.map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms));
        let mut blocked = false;
        let kernel = std::sync::Arc::clone(&self.kernel);
        let bus = kernel.bus.topic(&topic);
        let found = loop {
            let emitted = bus.emitted();
            match self.next_event(&topic, &bus) {
                Ok(Some(event)) => break Some(event),
                Ok(None) => {}
                Err(e) => {
                    if blocked {
                        self.unblock();
                    }
                    return Ok(Err(RuntimeError::Io(e.to_string())));
                }
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
        drop(bus);
        Ok(Ok(found.map(|event| {
            self.seen.insert(topic.clone(), event.id);
            Event {
                topic: event.topic,
                payload: event.payload,
                source: event.source,
            }
        })))
    }
}
