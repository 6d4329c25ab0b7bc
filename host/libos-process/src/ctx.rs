//! `ProcessCtx`: the state of one running AgentProcess (the data of its wasmtime `Store`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use libos::call::CallCtx;
use libos_authority::{Capability, CapabilitySet, Policy};
use libos_image::Image;
use wasmtime_wasi::{WasiCtxView, WasiView};

use crate::kernel::Inner;

/// Everything a process can reach. The fs, clock and log primitives are served by its
/// [`CallCtx`] exactly as for a tool; process, tools, memory and events by this type. All of
/// its authority comes from its capabilities, decided through its call context's session.
pub struct ProcessCtx {
    pub(crate) pid: u64,
    pub(crate) parent: Option<u64>,
    pub(crate) image: Arc<Image>,
    /// The capabilities it holds, as granted (no ambient ones).
    pub(crate) capabilities: Vec<Capability>,
    /// The same, compiled, for attenuation checks.
    pub(crate) held: CapabilitySet,
    pub(crate) policy: Arc<Policy>,
    /// Its working directory on the host.
    pub(crate) workdir: PathBuf,
    /// Its working directory as shown to it, relative to the root of its process tree.
    pub(crate) cwd: String,
    pub(crate) call: CallCtx,
    pub(crate) kernel: Arc<Inner>,
    /// Per topic, the sequence of the last event this process received.
    pub(crate) seen: HashMap<String, u64>,
}

impl ProcessCtx {
    /// This process's pid.
    pub fn pid(&self) -> u64 {
        self.pid
    }

    /// Records that this process parks waiting for `on` (hands its audit records off first).
    pub(crate) fn block(&mut self, on: libos_kernel::BlockedOn) {
        self.call.hand_off_audit();
        self.record(&[libos_kernel::State::Blocked(on)]);
    }

    /// Records that this process runs again after [`ProcessCtx::block`]: ready, then running.
    pub(crate) fn unblock(&self) {
        self.record(&[libos_kernel::State::Ready, libos_kernel::State::Running]);
    }

    fn record(&self, path: &[libos_kernel::State]) {
        if let Err(e) = self.kernel.table.transitions_to(self.pid, path) {
            // Killed meanwhile (the table refuses leaving an ended state): nothing to record.
            tracing::debug!(pid = self.pid, error = %e, "state change not recorded");
        }
    }
}

impl WasiView for ProcessCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.call.ctx()
    }
}
