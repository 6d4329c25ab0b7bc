//! A wait until a time on the wall clock of the host's clock provider: the pollable a
//! journaled process's `wasi:clocks/monotonic-clock.subscribe-*` returns, so a sleep keeps its
//! wake time across hosts and follows an injected clock.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi_io::async_trait;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::providers::{Clock, sleep_until};

/// Ready once `clock` reads `wall` (a duration since the Unix epoch) or later: at once when
/// it is past (`pollable.ready` says `true`). A guest that polls a zero timeout in a busy
/// loop does not starve the host's other tasks: its fuel makes it yield every time slice.
struct WallDeadline {
    clock: Arc<dyn Clock>,
    wall: Duration,
}

#[async_trait]
impl Pollable for WallDeadline {
    async fn ready(&mut self) {
        sleep_until(self.clock.as_ref(), self.wall).await;
    }
}

/// A pollable in `table` ready once `clock` reads `wall` or later.
pub fn subscribe_wall(
    table: &mut ResourceTable,
    clock: Arc<dyn Clock>,
    wall: Duration,
) -> wasmtime::Result<Resource<DynPollable>> {
    let deadline = table.push(WallDeadline { clock, wall })?;
    subscribe(table, deadline)
}
