//! `wasi:clocks`, journaled: a reading is answered from the journal on replay; a subscription
//! journals the wall-clock time it ends at and waits for the host's clock to reach it.

use std::time::Duration;

use libos::wasm::deadline::subscribe_wall;
use libos::wasm::mediated::mediated;
use wasmtime::component::Resource;
use wasmtime_wasi::WasiView as _;
use wasmtime_wasi::p2::bindings::clocks::{monotonic_clock, wall_clock};
use wasmtime_wasi_io::poll::DynPollable;

use super::{Call, Journaled};

const WALL: &str = "wasi:clocks/wall-clock";
const MONOTONIC: &str = "wasi:clocks/monotonic-clock";

/// Nanoseconds since the Unix epoch `after` nanoseconds past `now` (saturating: a wait too
/// long to represent never ends).
fn wall_after(now: Duration, after: u64) -> u64 {
    u64::try_from(now.as_nanos())
        .unwrap_or(u64::MAX)
        .saturating_add(after)
}

impl wall_clock::Host for Journaled<'_> {
    /// Decided as `clock.read` on `wall` (see `libos`'s `mediated.rs`), journaled.
    fn now(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        let (seconds, nanoseconds) = self.wasi_read(&Call::new(WALL, "now", &())?, |p| {
            let now = wall_clock::Host::now(&mut mediated(p))?;
            Ok((now.seconds, now.nanoseconds))
        })?;
        Ok(wall_clock::Datetime {
            seconds,
            nanoseconds,
        })
    }

    /// The same on every host.
    fn resolution(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        wall_clock::Host::resolution(&mut mediated(self.0))
    }
}

impl monotonic_clock::Host for Journaled<'_> {
    /// Decided as `clock.read` on `monotonic`, journaled; never less than a reading the
    /// process was given before (`CallJournal::monotonic`).
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        let value = self.wasi_read(&Call::new(MONOTONIC, "now", &())?, |p| {
            let raw = monotonic_clock::Host::now(&mut mediated(p))?;
            Ok(p.journal.monotonic(raw))
        })?;
        self.0.journal.saw_monotonic(value);
        Ok(value)
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::resolution(&mut mediated(self.0))
    }

    /// `when` is on the scale the process reads ([`monotonic_clock::Host::now`]).
    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let clock = self.0.call.clock();
        let call = Call::new(MONOTONIC, "subscribe-instant", &(when,))?;
        let wall = self.wasi_read(&call, |p| {
            let now = p.journal.monotonic(clock.monotonic());
            Ok(wall_after(clock.now(), when.saturating_sub(now)))
        })?;
        subscribe_wall(self.0.ctx().table, clock, Duration::from_nanos(wall))
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let clock = self.0.call.clock();
        let call = Call::new(MONOTONIC, "subscribe-duration", &(duration,))?;
        let wall = self.wasi_read(&call, |_| Ok(wall_after(clock.now(), duration)))?;
        subscribe_wall(self.0.ctx().table, clock, Duration::from_nanos(wall))
    }
}
