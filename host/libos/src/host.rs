//! `ToolHost`: loads tool components and runs calls of them.
//!
//! Split by what each part does: [`load`] (read, check, compile through the cache, validate
//! imports, describe), [`authorities`] (the shared, kept authorities a call decides through),
//! [`context`] (the data and store of one call), [`invoke`] (running one call and reporting
//! what it left) and [`plain`] (components that are not tools: one tool per exported
//! function, called with JSON arguments).

mod authorities;
mod context;
mod input_schema;
mod invoke;
mod load;
mod plain;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use libos_audit::AuditLog;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::Tool;
use crate::call::CallCtx;
use crate::error::HostError;
use crate::providers::{Clock, SystemClock};
use crate::state::StateDir;
use crate::wasm::cache::ComponentCache;
use crate::wasm::engine::{self, Allocation};
use crate::wasm::ticker::EpochTicker;
use crate::wasm::wasi;

pub use authorities::AMBIENT_CAPABILITIES;
pub use input_schema::{InputSchema, MAX_SCHEMA_BYTES};
pub use invoke::{CallOptions, CallReport, Seed, runtime_failure};
pub use load::{LoadedTool, ToolDescription};
pub use plain::{Inspection, LoadedPlain, PlainFunction};

/// How a host is set up.
#[derive(Clone)]
pub struct HostOptions {
    /// State directory (audit database, compiled-component cache); `None` for the default.
    pub state_dir: Option<PathBuf>,
    /// Instance allocation strategy.
    pub allocation: Allocation,
    /// Most processes a kernel over this host keeps alive at once; starting one more is
    /// refused with `limit-exceeded(children)` naming the host's bound. With
    /// [`Allocation::Pooling`], at most the pool's instances less [`engine::tool_room`].
    pub max_processes: u32,
    /// Largest component file accepted, in bytes.
    pub max_component_bytes: u64,
    /// Clock provider for guests.
    pub clock: Arc<dyn Clock>,
    /// Whether components importing the network load (each use decided at call time) or
    /// are refused at load (`--strict-imports`).
    pub strict_imports: crate::wasm::validate::Strictness,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            state_dir: None,
            allocation: Allocation::OnDemand,
            max_processes: engine::DEFAULT_MAX_PROCESSES,
            max_component_bytes: 64 << 20,
            clock: Arc::new(SystemClock::default()),
            strict_imports: crate::wasm::validate::Strictness::Decided,
        }
    }
}

impl HostOptions {
    /// The options of a host serving up to `max_processes` live processes (`libos run` and
    /// its background host): the pooling allocator sized for them ([`Allocation::serving`]),
    /// the rest default. Benchmarks build their hosts with this too.
    ///
    /// The number is first fitted to this machine's kernel limits
    /// ([`crate::wasm::capacity::fit`]): where they allow fewer processes, the host is sized
    /// for those, with a warning naming the limit and how to raise it.
    pub fn serving(max_processes: u32) -> HostOptions {
        let capacity = crate::wasm::capacity::fit(max_processes);
        if let Some(limit) = &capacity.limited_by {
            tracing::warn!("{limit}");
        }
        HostOptions {
            allocation: Allocation::serving(capacity.processes),
            max_processes: capacity.processes,
            ..HostOptions::default()
        }
    }
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
    strict_imports: crate::wasm::validate::Strictness,
    authorities: Mutex<HashMap<authorities::AuthorityKey, Arc<libos_authority::Authority>>>,
    workdirs: crate::workdirs::Workdirs,
    /// The state directory's canonical path.
    state_root: Arc<Path>,
    _ticker: EpochTicker,
}

impl ToolHost {
    /// Sets up the engine, linker, state directory, audit log and epoch ticker.
    /// Whether components importing the network load (see [`HostOptions::strict_imports`]).
    pub fn strict_imports(&self) -> crate::wasm::validate::Strictness {
        self.strict_imports
    }

    pub fn new(options: HostOptions) -> Result<ToolHost, HostError> {
        let state = StateDir::open(options.state_dir.as_deref())?;
        let engine = match engine::build(options.allocation) {
            Ok(engine) => engine,
            // The pool's reservations can be refused (an address-space limit, `ulimit -v`,
            // a sanitizer): serve anyway, allocating each instance on demand; the process
            // bound still holds.
            Err(e) if options.allocation != Allocation::OnDemand => {
                tracing::warn!(
                    "the instance pool could not be reserved ({e}); allocating instances \
                     on demand instead"
                );
                engine::build(Allocation::OnDemand)?
            }
            Err(e) => return Err(e),
        };
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
            strict_imports: options.strict_imports,
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
}
