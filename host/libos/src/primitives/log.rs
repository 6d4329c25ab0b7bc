//! `libos:runtime/log`: diagnostic messages, captured per call with a size cap.

use serde::Serialize;

use crate::bindings::libos::runtime::log::{Host, Level};
use crate::call::CallCtx;

/// One captured log message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message (truncated to the remaining room under the cap).
    pub message: String,
}

/// The log of one call: messages up to a byte cap, then a count of dropped bytes.
#[derive(Debug, Default)]
pub struct CallLog {
    cap: usize,
    used: usize,
    /// Messages kept.
    pub lines: Vec<LogLine>,
    /// Bytes of messages dropped past the cap.
    pub dropped: u64,
}

impl CallLog {
    /// An empty log keeping at most `cap` bytes of messages.
    pub fn new(cap: usize) -> Self {
        CallLog {
            cap,
            ..CallLog::default()
        }
    }

    /// Takes the messages kept so far and the count of bytes dropped, and makes the whole cap
    /// available again: a long-lived process hands its log on this way, so the cap bounds
    /// what it can log between two hand-offs rather than over its life.
    pub fn drain(&mut self) -> (Vec<LogLine>, u64) {
        self.used = 0;
        (
            std::mem::take(&mut self.lines),
            std::mem::take(&mut self.dropped),
        )
    }

    /// Adds a message of the host's own about this call, under the same cap.
    pub(crate) fn push(&mut self, level: &'static str, message: String) {
        let room = self.cap.saturating_sub(self.used);
        if room == 0 {
            self.dropped += message.len() as u64;
            return;
        }
        let mut message = message;
        if message.len() > room {
            let mut cut = room;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            self.dropped += (message.len() - cut) as u64;
            message.truncate(cut);
        }
        self.used += message.len();
        self.lines.push(LogLine { level, message });
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

impl Host for CallCtx {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        // Ambient, but still decided (a policy may forbid it) and audited like any primitive,
        // once per call (a process: per instance): the messages themselves are the call's
        // log, capped, not audit records. A refused message is dropped: the guest has
        // nothing to do about it.
        let permitted = match self.log_permitted {
            Some(permitted) => permitted,
            None => {
                let permitted = self
                    .permit("log.write", "call", None)
                    .map(|p| p.done(None))
                    .is_ok();
                self.log_permitted = Some(permitted);
                permitted
            }
        };
        if permitted {
            self.log.push(level_name(level), message);
        }
        Ok(())
    }
}
