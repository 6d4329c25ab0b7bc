//! Running one call of a tool: what the caller hands it, and what it left.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libos_authority::{Capability, Policy};
use serde::Serialize;
use wasmtime::Trap;

use super::{LoadedTool, ToolHost};
use crate::bindings::RuntimeError;
use crate::call::CallCtx;
use crate::error::{CallFailure, LimitKind};
use crate::limits::Limits;
use crate::primitives::log::LogLine;
use crate::wasm::pipe::CappedPipe;

/// Everything a caller hands to one call.
#[derive(Clone)]
pub struct CallOptions {
    /// Capabilities the caller holds.
    pub capabilities: Vec<Capability>,
    /// Policy deciding on top of capabilities.
    pub policy: Arc<Policy>,
    /// Working directory, the root of every path the call names: capabilities, policy and
    /// records name paths relative to it. Without one every file primitive is denied.
    pub workdir: Option<PathBuf>,
    /// The caller's current directory inside the working directory (normalized, relative,
    /// `""` for the working directory itself, see `primitives::path::normalize`): the
    /// relative paths the component names start from it (and shell commands run in it). What
    /// the call may touch is decided on the path relative to `workdir` whatever this is.
    pub cwd: String,
    /// The process a tool is called for, if any: the call's subject (what the policy sees
    /// as its principal and the audit log records) is then `pid:N/tool:NAME`, else
    /// `tool:NAME`.
    pub on_behalf_of: Option<u64>,
    /// Limits of the call.
    pub limits: Limits,
    /// Where the guest's randomness (WASI random) comes from.
    pub seed: Seed,
    /// Where what the call spends (bytes written) is charged; `None`: no budget.
    pub meter: Option<Arc<dyn crate::meter::Meter>>,
    /// The human queue the call consults when the policy asks (a process's calls, and the
    /// tool calls it makes); `None`: an `ask` is `needs-approval` with nothing recorded.
    pub human: Option<crate::approval::HumanLink>,
}

/// Where a call's WASI randomness comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Generators seeded with this number: the same bytes on every run (a reproducible tool
    /// run, a component's own checks, tests).
    Fixed(u64),
    /// Generators seeded from the operating system's entropy: an agent process (what it drew
    /// is journaled, so its replay needs no seed) and the tools it calls.
    Fresh,
}

impl CallOptions {
    /// A call that holds nothing: no capabilities, no working directory, no budget, no
    /// person to ask; every policy decision `permit` (the capabilities alone decide, and there
    /// are none). For a component's own checks: `describe()`, `libos conform`.
    pub fn holding_nothing(limits: Limits, seed: Seed) -> CallOptions {
        CallOptions {
            capabilities: Vec::new(),
            policy: Arc::new(Policy::permit_all()),
            workdir: None,
            cwd: String::new(),
            on_behalf_of: None,
            limits,
            seed,
            meter: None,
            human: None,
        }
    }
}

/// The outcome of one call and what it left behind.
#[derive(Debug, Serialize)]
pub struct CallReport {
    /// The tool's JSON result, or why there is none.
    pub result: Result<String, CallFailure>,
    /// Messages the tool logged.
    pub log: Vec<LogLine>,
    /// Bytes of log dropped past the cap.
    pub log_dropped: u64,
    /// Captured WASI stdout (lossy UTF-8) and bytes dropped past the cap.
    pub stdout: String,
    pub stdout_dropped: u64,
    /// Captured WASI stderr (lossy UTF-8) and bytes dropped past the cap.
    pub stderr: String,
    pub stderr_dropped: u64,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Wall-clock time of the call.
    pub elapsed: Duration,
}

impl ToolHost {
    /// Runs `invoke(input)` of `tool` in a fresh instance under `options`.
    pub async fn call(&self, tool: &LoadedTool, input: &str, options: &CallOptions) -> CallReport {
        let started = Instant::now();
        let subject: Arc<str> = match options.on_behalf_of {
            Some(pid) => format!("pid:{pid}/tool:{}", tool.info.name).into(),
            None => format!("tool:{}", tool.info.name).into(),
        };
        // The input must match the tool's schema before anything runs, and the tool gets the
        // value that was checked, written anew (a duplicate key, which parsers read as the
        // first or the last, cannot carry past the check a value the schema forbids).
        let checked;
        let input = match &tool.input_check {
            Some(check) => {
                let valid = serde_json::from_str::<serde_json::Value>(input)
                    .map_err(|e| format!("the input is not JSON: {e}"))
                    .and_then(|json| check.check(&json).map(|()| json));
                match valid {
                    Ok(json) => {
                        checked = json.to_string();
                        checked.as_str()
                    }
                    Err(why) => return CallReport::failed(CallFailure::InvalidInput(why), started),
                }
            }
            None => input,
        };
        let (mut store, stdout, stderr) =
            match self.store(subject, options, &tool.declared, tool.uses_wasi_fs) {
                Ok(s) => s,
                Err(failure) => return CallReport::failed(failure, started),
            };
        let limits = options.limits;
        // The epoch deadline stops running guest code; this bounds everything else.
        let grace = limits.timeout + Duration::from_secs(1);
        let outcome = tokio::time::timeout(grace, async {
            let instance = tool.pre.instantiate_async(&mut store).await?;
            instance.call_invoke(&mut store, input).await
        })
        .await;
        let done = Ran {
            store,
            limits,
            stdout: &stdout,
            stderr: &stderr,
            started,
        };
        done.report(outcome, |returned| returned.map_err(tool_failure))
    }
}

/// A call that ran (or was stopped): its store and what it reports from.
pub(super) struct Ran<'a> {
    pub(super) store: wasmtime::Store<CallCtx>,
    pub(super) limits: crate::limits::Limits,
    pub(super) stdout: &'a CappedPipe,
    pub(super) stderr: &'a CappedPipe,
    pub(super) started: Instant,
}

impl Ran<'_> {
    /// The report of the call: the grace time-out is the time limit, a trap is named by the
    /// limit the limiter saw hit (if any), `output` turns what the call returned into its
    /// output, which may not exceed the output limit.
    pub(super) fn report<T>(
        self,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
        output: impl FnOnce(T) -> Result<String, CallFailure>,
    ) -> CallReport {
        let limits = self.limits;
        let fuel_used = limits
            .fuel
            .saturating_sub(self.store.get_fuel().unwrap_or(0));
        let hit = self.store.data().limiter.hit;
        let result = match outcome {
            Err(_elapsed) => Err(CallFailure::LimitExceeded(LimitKind::Time)),
            Ok(Err(trap)) => Err(trap_failure(&trap, hit)),
            Ok(Ok(returned)) => output(returned).and_then(|out| {
                if out.len() > limits.max_output {
                    Err(CallFailure::LimitExceeded(LimitKind::Output))
                } else {
                    Ok(out)
                }
            }),
        };
        CallReport::finished(
            result,
            self.store.into_data(),
            self.stdout,
            self.stderr,
            fuel_used,
            self.started,
        )
    }
}

impl CallReport {
    /// The report of a call that ran: its result, and what its context and pipes kept.
    pub(super) fn finished(
        result: Result<String, CallFailure>,
        ctx: CallCtx,
        stdout: &CappedPipe,
        stderr: &CappedPipe,
        fuel_used: u64,
        started: Instant,
    ) -> CallReport {
        let (out, out_dropped) = stdout.contents();
        let (err, err_dropped) = stderr.contents();
        CallReport {
            result,
            log: ctx.log.lines,
            log_dropped: ctx.log.dropped,
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stdout_dropped: out_dropped,
            stderr: String::from_utf8_lossy(&err).into_owned(),
            stderr_dropped: err_dropped,
            fuel_used,
            elapsed: started.elapsed(),
        }
    }

    pub(super) fn failed(failure: CallFailure, started: Instant) -> CallReport {
        CallReport {
            result: Err(failure),
            log: Vec::new(),
            log_dropped: 0,
            stdout: String::new(),
            stdout_dropped: 0,
            stderr: String::new(),
            stderr_dropped: 0,
            fuel_used: 0,
            elapsed: started.elapsed(),
        }
    }
}

pub(super) fn trap_failure(err: &wasmtime::Error, hit: Option<LimitKind>) -> CallFailure {
    if let Some(kind) = hit {
        return CallFailure::LimitExceeded(kind);
    }
    if crate::wasm::engine::is_pool_full(err) {
        return CallFailure::Host(format!(
            "no free instance slot for the tool: {err:#} (the host's processes and their \
             tool calls use the whole pool)"
        ));
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallFailure::LimitExceeded(LimitKind::Fuel),
        Some(Trap::Interrupt) => CallFailure::LimitExceeded(LimitKind::Time),
        Some(Trap::StackOverflow) => CallFailure::Trap("stack overflow".into()),
        Some(trap) => CallFailure::Trap(trap.to_string()),
        None => CallFailure::Trap(format!("{err:#}")),
    }
}

fn tool_failure(e: crate::bindings::libos::runtime::types::ToolError) -> CallFailure {
    use crate::bindings::libos::runtime::types::ToolError;
    match e {
        ToolError::InvalidInput(m) => CallFailure::InvalidInput(m),
        ToolError::Failed(m) => CallFailure::Failed(m),
        ToolError::Runtime(r) => runtime_failure(r),
    }
}

/// Maps a primitive's typed error, passed through by a tool, to the call's outcome.
pub fn runtime_failure(e: RuntimeError) -> CallFailure {
    use crate::bindings::LimitKind as Wit;
    match e {
        RuntimeError::Denied(m) => CallFailure::Denied(m),
        RuntimeError::NeedsApproval(id) => CallFailure::NeedsApproval(id),
        RuntimeError::Invalid(m) => CallFailure::Failed(format!("invalid: {m}")),
        RuntimeError::NotFound => CallFailure::Failed("not found".into()),
        RuntimeError::LimitExceeded(k) => CallFailure::LimitExceeded(match k {
            Wit::Fuel => LimitKind::Fuel,
            Wit::Time => LimitKind::Time,
            Wit::Memory => LimitKind::Memory,
            Wit::Output => LimitKind::Output,
            Wit::Children => LimitKind::Children,
            Wit::Objects => LimitKind::Objects,
            Wit::Storage => LimitKind::Storage,
            Wit::ToolCalls => LimitKind::ToolCalls,
            Wit::BytesWritten => LimitKind::BytesWritten,
        }),
        RuntimeError::Io(m) => CallFailure::Failed(format!("io: {m}")),
    }
}
