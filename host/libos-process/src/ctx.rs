//! `ProcessCtx`: the state of one running AgentProcess (the data of its wasmtime `Store`).

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
}

impl ProcessCtx {
    /// This process's pid.
    pub fn pid(&self) -> u64 {
        self.pid
    }
}

impl WasiView for ProcessCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.call.ctx()
    }
}
