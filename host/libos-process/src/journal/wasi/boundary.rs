//! Where a process leaves what its journal can answer: the first use of WASI files or
//! network. An entry is stored first, durably; a replay that meets it fails the process
//! ([`JournalTrap::Unreplayable`]) instead of running past calls nobody journaled.

use libos::wasm::mediated::mediated;
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::Network;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::sockets::instance_network;
use wasmtime_wasi::sockets::WasiSocketsView as _;

use super::{Begun, Call, JournalTrap, Journaled};
use crate::ctx::ProcessCtx;

impl ProcessCtx {
    /// Journals, durably, that the process calls `interface`.`function`, whose results no
    /// journal keeps; only the first such call of a run is journaled.
    pub(crate) fn leave_journal(
        &mut self,
        interface: &'static str,
        function: &'static str,
    ) -> wasmtime::Result<()> {
        if self.journal.left_at().is_some() {
            return Ok(());
        }
        let call = Call::new(interface, function, &())?;
        match self.journal.read(&call)? {
            Begun::Replayed(_) => Err(JournalTrap::Unreplayable {
                seq: self.journal.next_seq().saturating_sub(1),
                call: call.name(),
            }
            .into()),
            Begun::Live(ticket) => {
                let seq = ticket.seq();
                self.journal.settle(ticket, &call, &())?;
                self.journal.stored_here()?;
                self.journal.left(seq);
                Ok(())
            }
        }
    }
}

impl preopens::Host for Journaled<'_> {
    /// A process is given no preopened directory today (it reaches files through
    /// `libos:runtime/fs`), so this list is empty and nothing is journaled; were one given,
    /// the process would leave the journal before it gets it.
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let directories = preopens::Host::get_directories(&mut mediated(self.0))?;
        if !directories.is_empty() {
            self.0
                .leave_journal("wasi:filesystem/preopens", "get-directories")?;
        }
        Ok(directories)
    }
}

impl instance_network::Host for Journaled<'_> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<Network>> {
        self.0
            .leave_journal("wasi:sockets/instance-network", "instance-network")?;
        instance_network::Host::instance_network(&mut self.0.sockets())
    }
}
