//! Running one process: its store, its time slices, `exec` in place, and recording its end.

use std::sync::Arc;
use std::time::Instant;

use libos::error::LimitKind;
use libos::wasm::pipe::CappedPipe;
use tokio::sync::watch;
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings::AgentPre;
use crate::control::exit_payload;
use crate::ctx::{PendingExec, ProcessCtx};
use crate::journal::snapshot::RESTORABLE;
use crate::kernel::{Inner, limits_of};
use crate::primitives::EXIT_TOPIC;
use crate::status::ExitStatus;

/// What an instance wrote to stdout and stderr (WASI agents), as log lines (level,
/// message), with a note of what the pipes dropped past their cap.
fn output_lines((stdout, stderr): &(CappedPipe, CappedPipe)) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (level, pipe) in [("stdout", stdout), ("stderr", stderr)] {
        let (bytes, dropped) = pipe.contents();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if dropped > 0 {
            text.push_str(&format!("\n[{dropped} more bytes dropped]"));
        }
        out.extend(text.lines().map(|l| (level.to_owned(), l.to_owned())));
    }
    out
}

/// The arguments and results of `libos:runtime/restorable.restore`.
type RestoreFunc = wasmtime::component::TypedFunc<(Vec<u8>,), (Result<(), String>,)>;

/// Notes whether the agent of `instance` exports `restorable`, and if its replay starts from
/// a snapshot, restores it (`journal/snapshot.rs`) and charges the fuel it had burnt.
async fn restore(
    store: &mut Store<ProcessCtx>,
    instance: &wasmtime::component::Instance,
) -> wasmtime::Result<()> {
    let func = instance
        .get_export_index(&mut *store, None, RESTORABLE)
        .and_then(|iface| instance.get_export_index(&mut *store, Some(&iface), "restore"))
        .map(|index| {
            instance.get_typed_func::<(Vec<u8>,), (Result<(), String>,)>(&mut *store, &index)
        })
        .transpose()?;
    let func: Option<RestoreFunc> = func;
    let data = store.data_mut();
    data.restorable = func.is_some();
    let Some(restored) = data.journal.take_restored() else {
        return Ok(());
    };
    let Some(func) = func else {
        return Err(wasmtime::Error::msg(format!(
            "its journal starts at a snapshot, but its agent does not export {RESTORABLE}"
        )));
    };
    data.fuel_burnt = restored.fuel_burnt;
    data.children_started = restored.children_started;
    if data.budget.burn(restored.fuel_burnt).is_err() {
        data.call.limiter_mut().hit = Some(LimitKind::Fuel);
    }
    let (outcome,) = func.call_async(&mut *store, (restored.state,)).await?;
    outcome.map_err(|e| wasmtime::Error::msg(format!("restoring its snapshot failed: {e}")))
}

/// How one instance of a process ended: with a status, or by `exec` into another image.
enum Ended {
    Status(ExitStatus),
    Exec(PendingExec, Box<ProcessCtx>),
}

impl Inner {
    /// Runs process `pid` to its end: its agent, then each image it `exec`s into. Returns
    /// how it ended and what its last instance printed (stored with its end, `finish`).
    pub(crate) async fn run(
        self: &Arc<Self>,
        pid: u64,
        pre: AgentPre<ProcessCtx>,
        ctx: Box<ProcessCtx>,
        pipes: (CappedPipe, CappedPipe),
        input: String,
    ) -> (ExitStatus, Vec<(String, String)>) {
        // The table has it running already (`create_running`).
        let (mut pre, mut ctx, mut pipes, mut input) = (pre, ctx, pipes, input);
        loop {
            let ended = self.run_instance(&pre, ctx, &input).await;
            let output = output_lines(&pipes);
            let (exec, old) = match ended {
                Ended::Status(status) => return (status, output),
                Ended::Exec(exec, old) => (exec, old),
            };
            self.store_output(pid, &output);
            let image = exec.image.reference();
            let granted: Vec<String> = exec.capabilities.iter().map(ToString::to_string).collect();
            let digest = exec.image.digest.to_string();
            // The image it leaves still binds it: its chain follows.
            let policy_chain = crate::ctx::chain_with(&digest, &old.policy_chain);
            if let Err(e) = self
                .table
                .set_image(pid, &image, &digest, &granted, &policy_chain)
            {
                return (
                    ExitStatus::Failed(format!("exec into {image}: {e}")),
                    Vec::new(),
                );
            }
            let old = *old;
            match self.context(
                pid,
                old.parent,
                (exec.image, exec.policy),
                exec.capabilities,
                // The budget is the process's, whatever image it runs.
                Arc::clone(&old.budget),
                (old.workdir, old.cwd),
            ) {
                Ok((mut next, next_pipes)) => {
                    next.seen = old.seen;
                    next.children_started = old.children_started;
                    next.events_from = old.events_from;
                    next.log_quota = old.log_quota;
                    next.policy_chain = policy_chain;
                    next.journal = old.journal;
                    ctx = Box::new(next);
                    pipes = next_pipes;
                }
                Err(e) => {
                    return (
                        ExitStatus::Failed(format!("exec into {image}: {e}")),
                        Vec::new(),
                    );
                }
            }
            // A host resuming it runs the new image on this input and replays from here.
            let spawned_at = match self.table.resume_of(pid) {
                Ok(before) => before.and_then(|r| r.spawned_at),
                Err(e) => {
                    return (
                        ExitStatus::Failed(format!("exec into {image}: {e}")),
                        Vec::new(),
                    );
                }
            };
            let resume = libos_proctable::Resume {
                input: exec.input.clone(),
                workdir: ctx.workdir.to_string_lossy().into_owned(),
                events_from: ctx.events_from,
                replay_from: ctx.journal.next_seq(),
                spawned_at,
                // The budget it started with stays stored.
                budget: None,
            };
            if let Err(e) = self.table.set_resume(pid, &resume) {
                return (
                    ExitStatus::Failed(format!("exec into {image}: {e}")),
                    Vec::new(),
                );
            }
            pre = exec.pre;
            input = exec.input;
        }
    }

    /// Runs one instance of an agent to its end.
    async fn run_instance(
        &self,
        pre: &AgentPre<ProcessCtx>,
        ctx: Box<ProcessCtx>,
        input: &str,
    ) -> Ended {
        let limits = limits_of(&ctx.image);
        let fuel_per_slice = ctx.image.limits.fuel_per_slice;
        let mut ctx = ctx;
        let now = ctx.call.clock().monotonic();
        ctx.journal.start_monotonic(now);
        let mut store = store_of(self.host.engine(), ctx);
        store.limiter(|p| p.call.limiter_mut());
        if let Err(e) = store.set_fuel(limits.fuel) {
            return Ended::Status(ExitStatus::Failed(format!("host error: {e:#}")));
        }
        store.data_mut().fuel_left = limits.fuel;
        if let Err(e) = store.fuel_async_yield_interval(Some(fuel_per_slice.max(1))) {
            return Ended::Status(ExitStatus::Failed(format!("host error: {e:#}")));
        }
        let deadline = Instant::now() + limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut cx| {
            let left = cx.get_fuel().unwrap_or(0);
            let data = cx.data_mut();
            data.hand_off();
            if data.burn(left).is_err() {
                data.call.limiter_mut().hit = Some(LimitKind::Fuel);
                return Ok(UpdateDeadline::Interrupt);
            }
            data.report_usage(false);
            if Instant::now() >= deadline {
                data.call.limiter_mut().hit = Some(LimitKind::Time);
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        // Instantiating takes a larger future than the call that follows; boxed, it is freed
        // before the call parks instead of sizing this future for the process's whole life.
        // The wall clock keeps counting while the process waits (on a person, a message, an
        // event, a child, a sleep), where no epoch tick can interrupt it: at the deadline the
        // instance is dropped wherever it is parked.
        let outcome = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), async {
            let instance = Box::pin(pre.instance_pre().instantiate_async(&mut store)).await?;
            let agent = crate::bindings::Agent::new(&mut store, &instance)?;
            restore(&mut store, &instance).await?;
            agent.call_run(&mut store, input).await
        })
        .await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(_) => {
                store.data_mut().call.limiter_mut().hit = Some(LimitKind::Time);
                Err(wasmtime::Error::msg(
                    "the wall-clock limit passed while it waited",
                ))
            }
        };
        let left = store.get_fuel().unwrap_or(0);
        let data = store.data_mut();
        data.hand_off();
        let _ = data.burn(left);
        if let Some(exec) = data.exec.take() {
            data.report_usage(true);
            return Ended::Exec(exec, Box::new(store.into_data()));
        }
        // The final usage is recorded with the end (`finish`).
        let hit = store.data_mut().call.limiter_mut().hit;
        // A replayed run that ends before its journal does is not the run that made it.
        if outcome.is_ok()
            && let Some(divergence) = store.data_mut().journal.ended_early()
        {
            return Ended::Status(ExitStatus::Failed(divergence.to_string()));
        }
        Ended::Status(match outcome {
            Ok(Ok(output)) => ExitStatus::Exited(output),
            Ok(Err(message)) => ExitStatus::Failed(message),
            Err(trap) => ExitStatus::Failed(trap_reason(&trap, hit)),
        })
    }

    /// Stores `output` (what an instance printed, [`output_lines`]) in the process log.
    fn store_output(&self, pid: u64, output: &[(String, String)]) {
        let lines: Vec<(&str, &str)> = output
            .iter()
            .map(|(level, line)| (level.as_str(), line.as_str()))
            .collect();
        if let Err(e) = self.table.append_logs(pid, &lines) {
            tracing::warn!(pid, error = %e, "process output not stored");
        }
    }

    /// Records the end of `pid` (unless it was killed meanwhile) and wakes its waiters.
    ///
    /// The end is recorded behind the caller; its exit notice wakes event waiters once
    /// committed. A kill made in this host takes the same lock first and leaves the mark this
    /// checks, so the two never both record an end. (A kill made from another terminal in
    /// the instant the process ends is recorded and announced instead of the end, while
    /// `wait` in this host has already answered with the end.)
    pub(crate) fn finish(
        self: &Arc<Self>,
        pid: u64,
        status: ExitStatus,
        tx: &watch::Sender<Option<ExitStatus>>,
    ) {
        self.finish_with_output(pid, (status, Vec::new()), tx);
    }

    /// [`Inner::finish`], storing `output` (what its last instance printed) with its end.
    pub(crate) fn finish_with_output(
        self: &Arc<Self>,
        pid: u64,
        (status, output): (ExitStatus, Vec<(String, String)>),
        tx: &watch::Sender<Option<ExitStatus>>,
    ) {
        self.close_requests(pid, &status);
        self.passing_tools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&pid);
        let mut running = self.lock_running();
        // Killed (marked, or already dropped from the map by the kill): the kill recorded and
        // announced the end; waiters learn it from the table when `tx` drops. Otherwise it
        // leaves the running map: a later `wait` finds its end in `recent` or the table.
        if running.get(&pid).is_none_or(|r| r.killed) {
            return;
        }
        let Some(usage) = running.remove(&pid).map(|r| r.budget.usage()) else {
            return;
        };
        let weak = Arc::downgrade(self);
        self.table.end_with_output_behind(
            pid,
            status.to_state(),
            (EXIT_TOPIC.to_owned(), exit_payload(pid, &status)),
            (Some(usage), output),
            Box::new(move |outcome| {
                if let Some(inner) = weak.upgrade() {
                    inner.end_recorded(pid, outcome);
                }
            }),
        );
        self.lock_recent().record(pid, &status);
        tx.send_replace(Some(status));
        drop(running);
    }

    /// [`Inner::close_requests`] of each of `pids`, killed (their tasks aborted, so they do
    /// not reach [`Inner::finish`]).
    pub(crate) fn close_requests_of_killed(&self, pids: &[u64]) {
        for &pid in pids {
            self.close_requests(pid, &ExitStatus::Killed);
            drop(self.journal.remove(pid));
        }
    }

    /// Closes what `pid` left waiting for a person (nothing could use a decision now) and
    /// audits each as expired.
    fn close_requests(&self, pid: u64, status: &ExitStatus) {
        let closed = match self.human.close_for(pid) {
            Ok(closed) => closed,
            Err(e) => {
                tracing::warn!(pid, error = %e, "requests of an ended process not closed");
                return;
            }
        };
        for request in closed {
            let record = libos_audit::AuditRecord::decided_now(
                ("host", "human.expire", &request.subject_line()),
                libos_audit::Verdict::Deny,
                &format!(
                    "process {pid} ended before a decision ({})",
                    ended_how(status)
                ),
                Some(request.id.clone()),
            );
            libos_audit::AuditSink::append(self.host.audit().as_ref(), record);
        }
    }

    /// Wakes event waiters once the end of `pid` is committed; if it could not be recorded
    /// (killed meanwhile from another terminal), announces the end the table has instead.
    fn end_recorded(&self, pid: u64, outcome: libos_proctable::Result<u64>) {
        match outcome {
            Ok(id) => {
                // Its end is stored: nobody will resume it, so its journal goes.
                drop(self.journal.remove(pid));
                self.bus.stored(id, EXIT_TOPIC);
            }
            Err(e) => match self
                .table
                .get(pid)
                .ok()
                .and_then(|r| ExitStatus::of_state(&r.state))
            {
                Some(ended) => self.announce_exit(pid, &ended),
                None => tracing::error!(pid, error = %e, "recording the end of a process failed"),
            },
        }
    }
}

/// The store of a process, its context moved in. (A separate function so the emptied box is
/// freed at once: moved out of inside the async run, it would stay allocated, empty, for the
/// process's whole life.)
fn store_of(engine: &wasmtime::Engine, ctx: Box<ProcessCtx>) -> Store<ProcessCtx> {
    Store::new(engine, *ctx)
}

/// How a process ended, in a few words, for the requests it leaves open.
fn ended_how(status: &ExitStatus) -> String {
    match status {
        ExitStatus::Exited(_) => "it exited".into(),
        ExitStatus::Failed(reason) => format!("it failed: {reason}"),
        ExitStatus::Killed => "it was killed".into(),
    }
}

fn trap_reason(err: &wasmtime::Error, hit: Option<LimitKind>) -> String {
    if let Some(kind) = hit {
        return format!("limit exceeded: {}", kind.as_str());
    }
    if libos::wasm::engine::is_pool_full(err) {
        return format!("host capacity: no free instance slot: {err:#}");
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => "limit exceeded: fuel".into(),
        Some(Trap::Interrupt) => "limit exceeded: time".into(),
        Some(trap) => format!("trap: {trap}"),
        None => format!("trap: {err:#}"),
    }
}
