//! `ProcessCtx`: the state of one running AgentProcess (the data of its wasmtime `Store`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libos::call::CallCtx;
use libos_authority::{Capability, CapabilitySet, Policy};
use libos_image::Image;
use libos_proctable::Usage;
use wasmtime_wasi::{WasiCtxView, WasiView};

use crate::bindings::AgentPre;
use crate::budget::Budget;
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
    /// The working directory of its process tree on the host (the root every path it may
    /// touch is decided from, whatever its `cwd`).
    pub(crate) workdir: PathBuf,
    /// Its current directory as shown to it: `/` and the path from the tree's root.
    pub(crate) cwd: String,
    pub(crate) call: CallCtx,
    pub(crate) kernel: Arc<Inner>,
    /// Per topic, the id of the last event this process received (or passed over).
    pub(crate) seen: HashMap<String, u64>,
    /// Children it started over its life (across `exec`), against its image's `max_children`:
    /// counted here so a spawn never counts rows of the process table.
    pub(crate) children_started: u64,
    /// The newest event id when the process started: on a topic it has not waited on yet, it
    /// receives only events emitted after that.
    pub(crate) events_from: u64,
    /// How fast it may emit events (its image's `events_per_second`).
    pub(crate) emits: crate::rate::Rate,
    /// What it may still store in its log (kept across `exec`).
    pub(crate) log_quota: crate::log_quota::LogQuota,
    /// The digests of the images whose policies decide for it, its own first (stored with it
    /// for `libos policy explain --pid`; passed on to its children and across `exec`).
    pub(crate) policy_chain: Vec<String>,
    /// The image to switch to, set by a successful `exec` just before it unwinds the instance.
    pub(crate) exec: Option<PendingExec>,
    /// Its budget (charged up the ancestor chain).
    pub(crate) budget: Arc<Budget>,
    /// The store's fuel when last charged to the budget.
    pub(crate) fuel_left: u64,
    /// The fuel it burnt over its life (to its last time slice), kept by its snapshots.
    pub(crate) fuel_burnt: u64,
    /// Whether its agent exports `libos:runtime/restorable` (may take snapshots).
    pub(crate) restorable: bool,
    /// What was last written to the process table's usage.
    pub(crate) reported: Reported,
    /// Its journal: the number of its next call, the calls still to replay.
    pub(crate) journal: crate::journal::CallJournal,
    /// The `spawn` being made: its journal entry (the child's key) and the barrier the child
    /// waits for (see [`crate::kernel::SpawnKey`]).
    pub(crate) spawning_at: Option<crate::kernel::SpawnKey>,
}

/// The path of a current directory `shown` as `/PATH`, relative to the tree's root (`""`
/// for the root itself), as [`libos::host::CallOptions::cwd`] takes it.
pub(crate) fn cwd_relative(shown: &str) -> String {
    shown.trim_start_matches('/').to_owned()
}

/// The usage last written to the table, and when.
#[derive(Default)]
pub(crate) struct Reported {
    usage: Usage,
    at: Option<Instant>,
}

/// How often a busy process's usage is written to the table at most.
const USAGE_EVERY: Duration = Duration::from_millis(500);

/// What `exec` checked and prepared: the run loop starts it in place of the current instance.
pub(crate) struct PendingExec {
    pub(crate) image: Arc<Image>,
    pub(crate) pre: AgentPre<ProcessCtx>,
    pub(crate) capabilities: Vec<Capability>,
    pub(crate) input: String,
    /// The policy in force after the exec: the new image's inheriting the one before.
    pub(crate) policy: Arc<Policy>,
}

impl ProcessCtx {
    /// This process's pid.
    pub fn pid(&self) -> u64 {
        self.pid
    }

    /// Records that this process parks waiting for `on` (hands its audit records and log
    /// lines off first).
    pub(crate) fn block(&mut self, on: libos_proctable::BlockedOn) {
        self.hand_off();
        self.record(&[libos_proctable::State::Blocked(on)]);
    }

    /// Records that this process runs again after [`ProcessCtx::block`]: ready, then running.
    pub(crate) fn unblock(&self) {
        self.record(&[
            libos_proctable::State::Ready,
            libos_proctable::State::Running,
        ]);
    }

    /// Queues the change for the table's writer thread: no SQLite on the process's fiber
    /// stack (its pages stay resident while it is parked) and one commit for many parkers.
    fn record(&self, path: &[libos_proctable::State]) {
        self.kernel.table.advance_behind(self.pid, path.to_vec());
    }

    /// Hands what the process accumulated in memory on to where others read it: its audit
    /// records to the audit log, its log lines to the process log. Done at every time slice,
    /// before parking and at the end.
    pub(crate) fn hand_off(&mut self) {
        self.call.hand_off_audit();
        self.store_log();
    }

    /// Charges the fuel burnt since the last charge (the store has `left`); `Err` once the
    /// budget of this process or an ancestor is exhausted.
    pub(crate) fn burn(&mut self, left: u64) -> Result<(), libos::error::LimitKind> {
        let burnt = self.fuel_left.saturating_sub(left);
        self.fuel_left = left;
        self.fuel_burnt = self.fuel_burnt.saturating_add(burnt);
        self.budget.burn(burnt)
    }

    /// Writes what the process spent to the table: when it changed, and (unless `now`) at
    /// most every [`USAGE_EVERY`].
    pub(crate) fn report_usage(&mut self, now: bool) {
        let usage = self.budget.usage();
        let due = now
            || self
                .reported
                .at
                .is_none_or(|at| at.elapsed() >= USAGE_EVERY);
        if usage == self.reported.usage || !due {
            return;
        }
        // Committed by the table's writer with the process's other changes.
        self.kernel.table.set_usage_behind(self.pid, usage);
        self.reported = Reported {
            usage,
            at: Some(Instant::now()),
        };
    }

    /// Moves the lines logged since the last hand-off into the process log, where
    /// `libos logs` reads them (with a note of any bytes dropped past the call log's cap).
    fn store_log(&mut self) {
        let (lines, dropped) = self.call.log_mut().drain();
        if lines.is_empty() && dropped == 0 {
            return;
        }
        let note = format!("[{dropped} bytes of log dropped: too much at once]");
        let mut new: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.level, l.message.as_str()))
            .collect();
        let spent_before = self.log_quota.spent();
        let over = self.log_quota.admit(&mut new);
        if dropped > 0 && !spent_before && over.is_none() {
            new.push(("warn", &note));
        }
        if let Some(over) = &over {
            new.push(("warn", over));
        }
        if new.is_empty() {
            return;
        }
        if let Err(e) = self.kernel.table.append_logs(self.pid, &new) {
            tracing::warn!(pid = self.pid, error = %e, "process log not stored");
        }
    }
}

impl WasiView for ProcessCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.call.ctx()
    }
}

impl libos::wasm::mediated::CallData for ProcessCtx {
    fn call_ctx(&mut self) -> &mut CallCtx {
        &mut self.call
    }

    /// See `journal/wasi/boundary.rs`.
    fn before_unjournaled(
        &mut self,
        interface: &'static str,
        function: &'static str,
    ) -> wasmtime::Result<()> {
        self.leave_journal(interface, function)
    }
}

/// The policy chain of a process running image `digest` under `inherited` (a parent's chain,
/// or its own before an `exec`): `digest` first, then `inherited` without repeats.
pub(crate) fn chain_with(digest: &str, inherited: &[String]) -> Vec<String> {
    let mut chain = vec![digest.to_owned()];
    for d in inherited {
        if !chain.contains(d) {
            chain.push(d.clone());
        }
    }
    chain
}
