//! `ToolHost`: loads tool components and runs calls of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libos_audit::AuditLog;
use libos_authority::{Authority, Capability, CapabilitySet, Policy, Session};
use serde::Serialize;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::bindings::{RuntimeError, Tool, ToolPre};
use crate::call::{CallCtx, Wasi};
use crate::error::{CallFailure, HostError, LimitKind, LoadError};
use crate::limits::Limits;
use crate::primitives::log::{CallLog, LogLine};
use crate::providers::{Clock, SystemClock};
use crate::state::StateDir;
use crate::wasm::cache::{CacheOutcome, ComponentCache};
use crate::wasm::engine::{self, Allocation};
use crate::wasm::limiter::CallLimiter;
use crate::wasm::pipe::CappedPipe;
use crate::wasm::ticker::EpochTicker;
use crate::wasm::validate::{self, ImportClass, ImportInfo};
use crate::wasm::wasi::{self, WasiSetup};

/// Capabilities every call holds without asking: reading the clock and writing to its own
/// log. The policy still decides them (a `forbid` can take them away) and they are audited.
pub const AMBIENT_CAPABILITIES: &[&str] = &["clock.read:**", "log.write:**"];

/// How a host is set up.
#[derive(Clone)]
pub struct HostOptions {
    /// State directory (audit database, compiled-component cache); `None` for the default.
    pub state_dir: Option<PathBuf>,
    /// Instance allocation strategy.
    pub allocation: Allocation,
    /// Largest component file accepted, in bytes.
    pub max_component_bytes: u64,
    /// Clock provider for guests.
    pub clock: Arc<dyn Clock>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            state_dir: None,
            allocation: Allocation::OnDemand,
            max_component_bytes: 64 << 20,
            clock: Arc::new(SystemClock::default()),
        }
    }
}

/// What a tool says about itself, checked by the host.
#[derive(Debug, Clone, Serialize)]
pub struct ToolDescription {
    /// Tool name (`[a-z0-9_-]+`).
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: serde_json::Value,
    /// Capabilities the tool declares; a call never gets more than these.
    pub capabilities: Vec<String>,
}

/// A validated, compiled, pre-instantiated tool component.
pub struct LoadedTool {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Hex SHA-256 of the component bytes.
    pub digest: String,
    /// Every import and how the host treats it.
    pub imports: Vec<ImportInfo>,
    /// Every export name.
    pub exports: Vec<String>,
    /// Its `describe()` answer.
    pub info: ToolDescription,
    /// Whether compilation was served from the cache.
    pub cache: CacheOutcome,
    declared: Vec<Capability>,
    uses_wasi_fs: bool,
    pre: ToolPre<CallCtx>,
}

/// Everything a caller hands to one call.
#[derive(Clone)]
pub struct CallOptions {
    /// Capabilities the caller holds.
    pub capabilities: Vec<Capability>,
    /// Policy deciding on top of capabilities.
    pub policy: Arc<Policy>,
    /// Working directory; without one every file primitive is denied.
    pub workdir: Option<PathBuf>,
    /// Limits of the call.
    pub limits: Limits,
    /// Seed of the guest's randomness (WASI random); fixed for deterministic runs.
    pub seed: u64,
    /// Where what the call spends (bytes written) is charged; `None`: no budget.
    pub meter: Option<Arc<dyn crate::meter::Meter>>,
    /// The human queue the call consults when the policy asks (a process's calls, and the
    /// tool calls it makes); `None`: an `ask` is `needs-approval` with nothing recorded.
    pub human: Option<crate::approval::HumanLink>,
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

/// Loads components and runs calls. One host serves many concurrent calls; a runaway call
/// cannot stall the others (time slices, limits).
pub struct ToolHost {
    engine: Engine,
    linker: Linker<CallCtx>,
    cache: ComponentCache,
    audit: Arc<AuditLog>,
    state: StateDir,
    clock: Arc<dyn Clock>,
    max_component_bytes: u64,
    authorities: Mutex<HashMap<AuthorityKey, Arc<Authority>>>,
    workdirs: crate::workdirs::Workdirs,
    /// The state directory's canonical path.
    state_root: Arc<Path>,
    _ticker: EpochTicker,
}

/// How many authorities (compiled capability sets with their verdict caches) a host keeps.
const KEPT_AUTHORITIES: usize = 256;

/// What makes two calls' authorities interchangeable: the same held capabilities, the same
/// declared ceiling and the same policy (by identity; the kept [`Authority`] holds the policy,
/// so the address cannot be reused while the entry exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AuthorityKey {
    held: Vec<Capability>,
    declared: Vec<Capability>,
    policy: usize,
}

impl ToolHost {
    /// Sets up the engine, linker, state directory, audit log and epoch ticker.
    pub fn new(options: HostOptions) -> Result<ToolHost, HostError> {
        let state = StateDir::open(options.state_dir.as_deref())?;
        let engine = engine::build(options.allocation)?;
        let mut linker = Linker::new(&engine);
        Tool::add_to_linker::<CallCtx, HasSelf<CallCtx>>(&mut linker, |c| c)
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;
        wasi::add_to_linker(&mut linker).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let audit = Arc::new(AuditLog::open(&state.db_path())?);
        let state_root: Arc<Path> = std::fs::canonicalize(state.root())
            .map_err(|source| HostError::StateDir {
                path: state.root().to_path_buf(),
                source,
            })?
            .into();
        let ticker = EpochTicker::start(&engine).map_err(|e| HostError::Engine(e.to_string()))?;
        Ok(ToolHost {
            cache: ComponentCache::new(&state.cache_dir(), &engine, &state.db_path())
                .map_err(|e| HostError::Cache(e.to_string()))?,
            engine,
            linker,
            audit,
            state,
            clock: options.clock,
            max_component_bytes: options.max_component_bytes,
            authorities: Mutex::default(),
            workdirs: crate::workdirs::Workdirs::new(state_root.to_path_buf()),
            state_root,
            _ticker: ticker,
        })
    }

    /// The state directory in use.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// The audit log every decision of this host goes to.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// The engine (for benchmarks and tests that compare against raw wasmtime).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Makes every audit record appended so far durable.
    pub fn flush_audit(&self) -> Result<(), HostError> {
        Ok(self.audit.flush()?)
    }

    /// Reads, checks, compiles (or loads from cache) and validates a component, then asks it
    /// to describe itself. Nothing is instantiated before every import has been checked.
    pub async fn load(&self, path: &Path) -> Result<LoadedTool, LoadError> {
        self.load_checked(path, None).await
    }

    /// [`ToolHost::load`] of a stored blob: refused unless its bytes hash to `digest` (hex
    /// SHA-256), the name it is stored under.
    pub async fn load_blob(&self, path: &Path, digest: &str) -> Result<LoadedTool, LoadError> {
        self.load_checked(path, Some(digest)).await
    }

    async fn load_checked(
        &self,
        path: &Path,
        expected: Option<&str>,
    ) -> Result<LoadedTool, LoadError> {
        let (component, digest, cache, imports) = self.compile_checked(path, expected).await?;
        if let Some(agent_only) = imports.iter().find(|i| validate::is_agent_only(&i.name)) {
            return Err(LoadError::Refused {
                import: agent_only.name.clone(),
                why: "is served to agent processes only, not to tools".into(),
            });
        }
        let exports = validate::exports(&self.engine, &component);
        let pre = self.prepare(path, &component)?;
        let uses_wasi_fs = imports
            .iter()
            .any(|i| i.class == ImportClass::WasiFilesystem);
        let mut tool = LoadedTool {
            path: path.to_path_buf(),
            digest,
            imports,
            exports,
            info: ToolDescription {
                name: String::new(),
                description: String::new(),
                input_schema: serde_json::Value::Null,
                capabilities: Vec::new(),
            },
            cache,
            declared: Vec::new(),
            uses_wasi_fs,
            pre,
        };
        self.describe(&mut tool).await?;
        Ok(tool)
    }

    /// Reads, checks and compiles (or loads from the cache) the component at `path`, and
    /// refuses it unless every import is one this host serves. Returns the component, the
    /// hex SHA-256 of its bytes, whether the cache served it, and its imports.
    pub async fn compile(
        &self,
        path: &Path,
    ) -> Result<(Component, String, CacheOutcome, Vec<ImportInfo>), LoadError> {
        self.compile_checked(path, None).await
    }

    /// [`ToolHost::compile`] of a stored blob: refused unless its bytes hash to `digest` (hex
    /// SHA-256), the name it is stored under, so a blob altered in the store is never run.
    pub async fn compile_blob(
        &self,
        path: &Path,
        digest: &str,
    ) -> Result<(Component, String, CacheOutcome, Vec<ImportInfo>), LoadError> {
        self.compile_checked(path, Some(digest)).await
    }

    async fn compile_checked(
        &self,
        path: &Path,
        expected: Option<&str>,
    ) -> Result<(Component, String, CacheOutcome, Vec<ImportInfo>), LoadError> {
        let read_err = |source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_err)?.len();
        if size > self.max_component_bytes {
            return Err(LoadError::TooLarge {
                path: path.to_path_buf(),
                size,
                max: self.max_component_bytes,
            });
        }
        let bytes = std::fs::read(path).map_err(read_err)?;
        check_header(path, &bytes)?;
        let digest = ComponentCache::digest(&bytes);
        if let Some(expected) = expected
            && !expected.eq_ignore_ascii_case(&digest)
        {
            return Err(LoadError::Altered {
                path: path.to_path_buf(),
                expected: expected.to_owned(),
                actual: digest,
            });
        }
        let (component, cache) = self.cache.load(&self.engine, bytes, &digest, path).await?;
        let imports = validate::imports(&self.engine, &component);
        validate::ensure_allowed(&imports)?;
        Ok((component, digest, cache, imports))
    }

    fn prepare(&self, path: &Path, component: &Component) -> Result<ToolPre<CallCtx>, LoadError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::Refused {
                import: "an interface".into(),
                why: format!("this host cannot link: {e:#}"),
            })?;
        ToolPre::new(pre).map_err(|e| LoadError::NotATool {
            path: path.to_path_buf(),
            message: format!("{e:#}"),
        })
    }

    async fn describe(&self, tool: &mut LoadedTool) -> Result<(), LoadError> {
        let fail = |message: String| LoadError::Describe {
            path: tool.path.clone(),
            message,
        };
        let subject: Arc<str> = format!("component:{}", &tool.digest[..12]).into();
        let options = CallOptions {
            capabilities: Vec::new(),
            policy: Arc::new(Policy::permit_all()),
            workdir: None,
            limits: Limits::default(),
            seed: 0,
            meter: None,
            human: None,
        };
        let (mut store, _, _) = self
            .store(subject, &options, &[], false)
            .map_err(|e| fail(e.to_string()))?;
        let instance = tool
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        let info = instance
            .call_describe(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        let valid_name = !info.name.is_empty()
            && info.name.len() <= 64
            && info
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(fail(format!(
                "tool name {:?} is not 1-64 characters of [a-z0-9_-]",
                info.name
            )));
        }
        let schema: serde_json::Value = serde_json::from_str(&info.input_schema)
            .map_err(|e| fail(format!("input schema is not JSON: {e}")))?;
        let mut declared = Vec::new();
        for c in &info.capabilities {
            let text = format!("{}:{}", c.action, c.resource);
            let cap: Capability = text
                .parse()
                .map_err(|e| fail(format!("declared capability {text:?}: {e}")))?;
            declared.push(cap);
        }
        tool.info = ToolDescription {
            name: info.name,
            description: info.description,
            input_schema: schema,
            capabilities: declared.iter().map(ToString::to_string).collect(),
        };
        tool.declared = declared;
        Ok(())
    }

    /// The authority for a call holding `held`, narrowed to `declared`, under `policy`.
    ///
    /// Authorities are kept and shared between calls with the same capabilities, ceiling and
    /// policy (up to [`KEPT_AUTHORITIES`] of them): compiling capability globs costs more than
    /// the rest of setting up a call, and sharing the verdict cache means a request is decided
    /// by Cedar once per host rather than once per call. The subject is part of every cached
    /// verdict's key, so sharing never lets one tool's verdict answer another's request.
    fn authority(
        &self,
        held: &[Capability],
        declared: &[Capability],
        policy: &Arc<Policy>,
    ) -> Result<Arc<Authority>, CallFailure> {
        let key = AuthorityKey {
            held: held.to_vec(),
            declared: declared.to_vec(),
            policy: Arc::as_ptr(policy) as usize,
        };
        let mut kept = self
            .authorities
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(authority) = kept.get(&key) {
            return Ok(Arc::clone(authority));
        }
        let authority = Arc::new(
            Authority::new(capability_set(held)?, policy.clone(), self.audit.clone())
                .narrowed_to(capability_set(declared)?),
        );
        if kept.len() >= KEPT_AUTHORITIES {
            kept.clear();
        }
        kept.insert(key, Arc::clone(&authority));
        Ok(authority)
    }

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
            reserved,
            state_root: Arc::clone(&self.state_root),
            limits,
            limiter: CallLimiter::new(limits.max_memory, limits.max_table_elements),
            clock: self.clock.clone(),
            log: CallLog::new(limits.max_log),
            meter: options.meter.clone(),
            wasi: Wasi::later(setup),
            table: wasmtime::component::ResourceTable::new(),
            wasi_fs,
            wasi_dirs: std::collections::HashMap::new(),
            human: options.human.clone(),
            taken: None,
        };
        Ok((ctx, stdout, stderr))
    }

    /// Builds the store of one call around [`ToolHost::context`], with its fuel, memory and
    /// wall-clock limits armed.
    fn store(
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

    /// Runs `invoke(input)` of `tool` in a fresh instance under `options`.
    pub async fn call(&self, tool: &LoadedTool, input: &str, options: &CallOptions) -> CallReport {
        let started = Instant::now();
        let subject: Arc<str> = format!("tool:{}", tool.info.name).into();
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
        let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let hit = store.data().limiter.hit;
        let result = match outcome {
            Err(_elapsed) => Err(CallFailure::LimitExceeded(LimitKind::Time)),
            Ok(Err(trap)) => Err(trap_failure(&trap, hit)),
            Ok(Ok(Err(tool_error))) => Err(tool_failure(tool_error)),
            Ok(Ok(Ok(output))) if output.len() > limits.max_output => {
                Err(CallFailure::LimitExceeded(LimitKind::Output))
            }
            Ok(Ok(Ok(output))) => Ok(output),
        };
        let ctx = store.into_data();
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
}

impl CallReport {
    fn failed(failure: CallFailure, started: Instant) -> CallReport {
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

/// Checks the magic number and the layer before handing bytes to the compiler.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if !bytes.starts_with(b"\0asm") || bytes.len() < 8 {
        return Err(LoadError::Malformed {
            path: path.to_path_buf(),
            message: "the file does not start with the WebAssembly magic number".into(),
        });
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule {
            path: path.to_path_buf(),
        });
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::Malformed {
            path: path.to_path_buf(),
            message: "unknown WebAssembly version or layer".into(),
        });
    }
    Ok(())
}

fn trap_failure(err: &wasmtime::Error, hit: Option<LimitKind>) -> CallFailure {
    if let Some(kind) = hit {
        return CallFailure::LimitExceeded(kind);
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

/// `caps` plus the ambient capabilities, compiled.
fn capability_set(caps: &[Capability]) -> Result<CapabilitySet, CallFailure> {
    let all = caps
        .iter()
        .cloned()
        .chain(AMBIENT_CAPABILITIES.iter().filter_map(|c| c.parse().ok()))
        .collect();
    CapabilitySet::new(all).map_err(|e| CallFailure::Host(e.to_string()))
}
