//! `process.send` / `process.recv`: the persisted message queue of each process.
//!
//! `send` is decided with resource `parent/PID` or `children/PID` when the target is the
//! caller's parent or child (ambient, see [`crate::PROCESS_AMBIENT`]), `process/PID`
//! otherwise (a capability must name it). `recv` is decided on `self`.

use std::time::Duration;

use libos::bindings::{LimitKind, RuntimeError};
use libos_proctable::mailbox::MAX_BODY;
use libos_proctable::{BlockedOn, MessageBody};

use crate::bindings::libos::runtime::process::Message;
use crate::ctx::ProcessCtx;

impl ProcessCtx {
    pub(crate) async fn do_send(&mut self, to: u64, body: String) -> Result<(), RuntimeError> {
        if body.len() > MAX_BODY {
            return Err(RuntimeError::LimitExceeded(LimitKind::Output));
        }
        if serde_json::from_str::<serde::de::IgnoredAny>(&body).is_err() {
            return Err(RuntimeError::Invalid("a message body must be JSON".into()));
        }
        let resource = if self.parent == Some(to) {
            format!("parent/{to}")
        } else if self
            .kernel
            .table
            .get(to)
            .is_ok_and(|r| r.parent == Some(self.pid))
        {
            format!("children/{to}")
        } else {
            format!("process/{to}")
        };
        let digest = libos::call::digest(&[body.as_bytes()]);
        let permit = self.call.permit("process.send", &resource, Some(&digest))?;
        self.call.record_stored().await?;
        self.kernel
            .deliver(to, self.pid, &MessageBody::Data(body))
            .map_err(|e| e.to_runtime())?;
        permit.done(None);
        Ok(())
    }

    pub(crate) async fn do_recv(
        &mut self,
        timeout_ms: Option<u64>,
    ) -> Result<Option<Message>, RuntimeError> {
        // Receiving takes only what was sent to this process: nothing to give back.
        self.call.permit("process.recv", "self", None)?.done(None);
        if let Some(message) = self.take_message()? {
            return Ok(Some(message));
        }
        if timeout_ms == Some(0) {
            return Ok(None);
        }
        let Some(mail) = self.kernel.mail(self.pid) else {
            return Err(RuntimeError::Io("process is not run by this host".into()));
        };
        let deadline = timeout_ms
            .map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms.min(u64::MAX / 4)));
        self.block(BlockedOn::Message);
        let received = loop {
            let wake = mail.notified();
            let woke = match deadline {
                Some(at) => tokio::time::timeout_at(at, wake).await.is_ok(),
                None => {
                    wake.await;
                    true
                }
            };
            match self.take_message() {
                Ok(Some(message)) => break Ok(Some(message)),
                Ok(None) if woke => continue,
                Ok(None) => break Ok(None),
                Err(e) => break Err(e),
            }
        };
        self.unblock();
        received
    }

    /// The next message of this process's queue, if any (interrupts first).
    fn take_message(&self) -> Result<Option<Message>, RuntimeError> {
        let taken = self
            .kernel
            .table
            .receive(self.pid)
            .map_err(|e| RuntimeError::Io(e.to_string()))?;
        Ok(taken.map(|m| match m.body {
            MessageBody::Interrupt => Message::Interrupt(m.from),
            MessageBody::Data(body) => Message::Data((m.from, body)),
        }))
    }
}
