//! A wait until a time on the wall clock of the host's clock provider: the pollable a
//! journaled process's `wasi:clocks/monotonic-clock.subscribe-*` returns, so a sleep keeps its
//! wake time across hosts and follows an injected clock.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::providers::{Clock, sleep_until};

/// Ready once `clock` reads `wall` (a duration since the Unix epoch) or later.
struct WallDeadline {
    clock: Arc<dyn Clock>,
    wall: Duration,
    /// Whether a deadline already past has let other tasks run once (a guest polling in a
    /// busy loop with a zero timeout must not starve the host's other pollables).
    yielded: bool,
}

#[async_trait]
impl Pollable for WallDeadline {
    async fn ready(&mut self) {
        if self.clock.now() >= self.wall {
            if !self.yielded {
                self.yielded = true;
                tokio::task::yield_now().await;
            }
            return;
        }
        sleep_until(self.clock.as_ref(), self.wall).await;
    }
}

/// A pollable in `table` ready once `clock` reads `wall` or later.
pub fn subscribe_wall(
    table: &mut ResourceTable,
    clock: Arc<dyn Clock>,
    wall: Duration,
) -> wasmtime::Result<Resource<DynPollable>> {
    let deadline = table.push(WallDeadline {
        clock,
        wall,
        yielded: false,
    })?;
    subscribe(table, deadline)
}
