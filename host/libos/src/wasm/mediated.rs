//! The WASI interfaces the runtime decides itself: a view of a call's [`CallCtx`] on which
//! the `wasi:filesystem` (see `wasi_fs.rs`), `wasi:clocks` and `wasi:cli` stdout/stderr host
//! traits are implemented, each operation going through the same authority check as the
//! runtime's own `fs`, `clock` and `log` primitives. What decides nothing is delegated to
//! wasmtime-wasi's own hosts.

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::cli::WasiCliView as _;
use wasmtime_wasi::clocks::WasiClocksView as _;
use wasmtime_wasi::p2::bindings::cli::{stderr, stdout};
use wasmtime_wasi::p2::bindings::clocks::{monotonic_clock, wall_clock};
use wasmtime_wasi::p2::pipe::SinkOutputStream;
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::DynOutputStream;

use crate::call::CallCtx;

/// A store's data that holds the context of a call (the context itself, or an agent
/// process's data around one).
pub trait CallData: wasmtime_wasi::WasiView + Send + 'static {
    /// The call's context.
    fn call_ctx(&mut self) -> &mut CallCtx;

    /// Called before `interface`.`function`, a call whose results no journal keeps (WASI
    /// files and network), acts; an error stops the call (a trap). An agent process records
    /// there, durably, that it has left what a replay can answer; a tool call does nothing.
    fn before_unjournaled(
        &mut self,
        _interface: &'static str,
        _function: &'static str,
    ) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl CallData for CallCtx {
    fn call_ctx(&mut self) -> &mut CallCtx {
        self
    }
}

/// The view the mediated WASI hosts are implemented on.
pub struct Mediated<'a> {
    pub(crate) cx: &'a mut CallCtx,
}

/// [`HasData`] of the mediated WASI hosts.
pub struct HasMediated;

impl HasData for HasMediated {
    type Data<'a> = Mediated<'a>;
}

/// The getter every mediated interface is linked with.
pub fn mediated<T: CallData>(t: &mut T) -> Mediated<'_> {
    Mediated { cx: t.call_ctx() }
}

impl wall_clock::Host for Mediated<'_> {
    /// Decided as `clock.read` on `wall`; refused, the guest reads the epoch (the interface
    /// has no error to return, and a trap is not a refusal).
    fn now(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        if self
            .cx
            .permit("clock.read", "wall", None)
            .map(|p| p.done(None))
            .is_err()
        {
            return Ok(wall_clock::Datetime {
                seconds: 0,
                nanoseconds: 0,
            });
        }
        wall_clock::Host::now(&mut self.cx.clocks())
    }

    fn resolution(&mut self) -> wasmtime::Result<wall_clock::Datetime> {
        wall_clock::Host::resolution(&mut self.cx.clocks())
    }
}

impl monotonic_clock::Host for Mediated<'_> {
    /// Decided as `clock.read` on `monotonic`; refused, the guest reads `0`.
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        if self
            .cx
            .permit("clock.read", "monotonic", None)
            .map(|p| p.done(None))
            .is_err()
        {
            return Ok(0);
        }
        monotonic_clock::Host::now(&mut self.cx.clocks())
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::resolution(&mut self.cx.clocks())
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        monotonic_clock::Host::subscribe_instant(&mut self.cx.clocks(), when)
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        monotonic_clock::Host::subscribe_duration(&mut self.cx.clocks(), duration)
    }
}

/// One of the output streams a guest gets from `wasi:cli`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    Stdout,
    Stderr,
}

impl Mediated<'_> {
    /// Decides `log.write` on `which` (`stdout` or `stderr`): whether what the guest writes
    /// there is kept.
    pub fn output_allowed(&mut self, which: Stdio) -> bool {
        let name = match which {
            Stdio::Stdout => "stdout",
            Stdio::Stderr => "stderr",
        };
        self.cx
            .permit("log.write", name, None)
            .map(|p| p.done(None))
            .is_ok()
    }

    /// The output stream `which` as decided (`allowed`); refused, a stream that drops what
    /// is written (like a refused log message).
    pub fn output_stream(
        &mut self,
        which: Stdio,
        allowed: bool,
    ) -> wasmtime::Result<Resource<DynOutputStream>> {
        if !allowed {
            let sink: DynOutputStream = Box::new(SinkOutputStream);
            return Ok(self.cx.table.push(sink)?);
        }
        match which {
            Stdio::Stdout => stdout::Host::get_stdout(&mut self.cx.cli()),
            Stdio::Stderr => stderr::Host::get_stderr(&mut self.cx.cli()),
        }
    }
}

impl stdout::Host for Mediated<'_> {
    fn get_stdout(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        let allowed = self.output_allowed(Stdio::Stdout);
        self.output_stream(Stdio::Stdout, allowed)
    }
}

impl stderr::Host for Mediated<'_> {
    fn get_stderr(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        let allowed = self.output_allowed(Stdio::Stderr);
        self.output_stream(Stdio::Stderr, allowed)
    }
}
