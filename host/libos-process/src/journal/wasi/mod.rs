//! The WASI a process is served, journaled like its `libos:runtime` calls (see the module
//! docs of `journal`), so that a third-party (`wasm32-wasip2`) agent resumes exactly:
//!
//! - what reads the outside world or time is journaled with its result, and a replay is
//!   answered from it: both clocks (`clocks.rs`, the monotonic one shifted so it never runs
//!   back across hosts), every `wasi:random` function (`random.rs`), which pollables are
//!   ready (`poll.rs`), and whether `log.write` allowed stdout or stderr (`stdio.rs`);
//! - a `monotonic-clock.subscribe-*` journals the wall-clock time it ends at, and waits for
//!   the host's clock provider to reach it: a sleep keeps its wake time across hosts;
//! - what the process writes to stdout and stderr is kept by its host until the instance
//!   ends, so a replay writes it again into the new host's pipes, once;
//! - what is deterministic given the same calls is not journaled: the environment (empty),
//!   stdin (empty), the resolutions, the streams' own calls on stdout and stderr;
//! - files and network (`wasi:filesystem`, `wasi:sockets`, `wasi:http`) are not journaled:
//!   the first use of one (`preopens.get-directories`, `instance-network`,
//!   `outgoing-handler.handle`) stores an entry first, durably (`boundary.rs`); a replay that
//!   meets it fails the process with that reason instead of running on past it.
//!
//! A read is handed to the journal, not waited for: the process's next effect waits for it.

mod boundary;
mod clocks;
mod poll;
mod random;
mod stdio;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::component::Linker;

use super::calls::{HasJournaled, Journaled};
use super::{Begun, Call, JournalTrap, decode};
use crate::ctx::ProcessCtx;

/// Links the WASI baseline for processes: the interfaces of
/// [`libos::wasm::wasi::JOURNALED`] journaled here, the rest as for a tool call.
pub(crate) fn add_to_linker(linker: &mut Linker<ProcessCtx>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets};
    use wasmtime_wasi_io::bindings::wasi::io;

    libos::wasm::wasi::add_to_linker_but(linker, libos::wasm::wasi::JOURNALED)?;
    let l = linker;
    io::poll::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    clocks::wall_clock::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    clocks::monotonic_clock::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    random::random::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    random::insecure::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    random::insecure_seed::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    cli::stdout::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    cli::stderr::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    filesystem::preopens::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    sockets::instance_network::add_to_linker::<ProcessCtx, HasJournaled>(l, |p| Journaled(p))?;
    Ok(())
}

impl Journaled<'_> {
    /// A WASI call that reads: answered from the journal, or `live` run and its result
    /// handed to the journal. Its interface has no error to return, so a full journal stops
    /// the process ([`JournalTrap::Full`]).
    fn wasi_read<V: Serialize + DeserializeOwned>(
        &mut self,
        call: &Call,
        live: impl FnOnce(&mut ProcessCtx) -> wasmtime::Result<V>,
    ) -> wasmtime::Result<V> {
        match self.0.journal.read(call)? {
            Begun::Replayed(bytes) => decode(&bytes, call),
            Begun::Live(ticket) => {
                self.not_full(call)?;
                let value = live(self.0)?;
                self.0.journal.settle(ticket, call, &value)?;
                Ok(value)
            }
        }
    }

    /// Refuses `call` (a trap) when the process's journal is full.
    fn not_full(&self, call: &Call) -> wasmtime::Result<()> {
        if self.0.journal.full() {
            return Err(JournalTrap::Full {
                call: call.name(),
                max: self.0.journal.max_bytes(),
            }
            .into());
        }
        Ok(())
    }
}
