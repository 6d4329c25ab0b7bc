//! The data and store of one call: its session on the shared authority, working directory,
//! WASI context, limits armed.

use std::sync::Arc;
use std::time::Instant;

use libos_authority::{Capability, Session};
use wasmtime::{Store, UpdateDeadline};

use super::{CallOptions, ToolHost};
use crate::call::{CallCtx, Wasi};
use crate::error::{CallFailure, LimitKind};
use crate::primitives::log::CallLog;
use crate::wasm::limiter::CallLimiter;
use crate::wasm::pipe::CappedPipe;
use crate::wasm::wasi::WasiSetup;

impl ToolHost {
    /// The primitive context of an agent process: the fs, clock and log primitives decided by
    /// `subject`'s capabilities (plus the ambient ones) under the options' policy, in its
    /// working directory, with its limits. Agents reach files through the same primitives
    /// (and the same authority sharing) as tools. Returns the context and its captured
    /// stdout and stderr.
    pub fn process_context(
        &self,
        subject: Arc<str>,
        options: &CallOptions,
    ) -> Result<(CallCtx, CappedPipe, CappedPipe), CallFailure> {
        self.context(subject, options, &options.capabilities, false)
    }

    /// The data of one call's store: authority (caller's capabilities narrowed to what the
    /// tool declares, plus the ambient ones), working directory, WASI context, limits.
    fn context(
        &self,
        subject: Arc<str>,
        options: &CallOptions,
        declared: &[Capability],
        uses_wasi_fs: bool,
    ) -> Result<(CallCtx, CappedPipe, CappedPipe), CallFailure> {
        let authority = self.authority(&options.capabilities, declared, &options.policy)?;
        let opened = match &options.workdir {
            Some(p) => Some(self.workdirs.open(p).map_err(|e| {
                CallFailure::Host(format!("working directory {}: {e}", p.display()))
            })?),
            None => None,
        };
        let cwd: Arc<str> = match crate::primitives::path::normalize(&options.cwd) {
            Ok(cwd) if cwd == options.cwd => cwd.into(),
            _ => {
                return Err(CallFailure::Host(format!(
                    "current directory {:?}: not a normalized path inside the working directory",
                    options.cwd
                )));
            }
        };
        let reserved = opened
            .as_ref()
            .map(|w| Arc::clone(&w.reserved))
            .unwrap_or_else(|| Arc::new(crate::reserved::Reserved::Elsewhere));
        let workdir_path = opened.as_ref().map(|w| Arc::clone(&w.path));
        let workdir_canonical = opened.as_ref().map(|w| Arc::clone(&w.canonical));
        let workdir = opened.map(|w| w.dir);
        let limits = options.limits;
        let stdout = CappedPipe::new(limits.max_log);
        let stderr = CappedPipe::new(limits.max_log);
        let setup = WasiSetup {
            clock: self.clock.clone(),
            seed: options.seed,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
        };
        // Any file capability preopens the working directory for WASI; each operation through
        // it is decided on its own (see `wasm/wasi_fs.rs`).
        let wasi_fs = uses_wasi_fs
            && workdir.is_some()
            && options
                .capabilities
                .iter()
                .any(|c| c.action.starts_with("fs.") || c.action == "*");
        let ctx = CallCtx {
            subject,
            authority: Session::new(authority),
            workdir,
            workdir_path,
            workdir_canonical,
            cwd,
            reserved,
            state_root: Arc::clone(&self.state_root),
            limits,
            limiter: CallLimiter::new(limits.max_memory, limits.max_table_elements),
            clock: self.clock.clone(),
            log: CallLog::new(limits.max_log),
            log_permitted: None,
            meter: options.meter.clone(),
            wasi: Wasi::later(setup),
            table: wasmtime::component::ResourceTable::new(),
            wasi_fs,
            wasi_dirs: std::collections::HashMap::new(),
            human: options.human.clone(),
            effect_entry: None,
        };
        Ok((ctx, stdout, stderr))
    }

    /// Builds the store of one call around [`ToolHost::context`], with its fuel, memory and
    /// wall-clock limits armed.
    pub(super) fn store(
        &self,
        subject: Arc<str>,
        options: &CallOptions,
        declared: &[Capability],
        uses_wasi_fs: bool,
    ) -> Result<(Store<CallCtx>, CappedPipe, CappedPipe), CallFailure> {
        let (ctx, stdout, stderr) = self.context(subject, options, declared, uses_wasi_fs)?;
        let limits = options.limits;
        let mut store = Store::new(&self.engine, ctx);
        store.limiter(|c| &mut c.limiter);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| CallFailure::Host(format!("{e:#}")))?;
        let deadline = Instant::now() + limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut cx| {
            // A time slice boundary: audit records held by the call's session go to the log
            // now, so none waits longer than a slice while the guest computes.
            cx.data_mut().authority.hand_off();
            if Instant::now() >= deadline {
                cx.data_mut().limiter.hit = Some(LimitKind::Time);
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok((store, stdout, stderr))
    }
}
