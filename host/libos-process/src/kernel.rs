//! The kernel: starts AgentProcesses from images, runs each as a tokio task, records every
//! state change in the process table, and lets callers wait for and kill them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use libos::call::CallCtx;
use libos::error::LimitKind;
use libos::host::{CallOptions, HostOptions, ToolHost};
use libos::{HostError, Limits};
use libos_authority::{Capability, CapabilitySet, Policy};
use libos_image::{Image, ImageError, ImageStore};
use libos_kernel::{NewProcess, ProcessTable, State};
use libos_memory::ObjectStore;
use tokio::sync::watch;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings::AgentPre;
use crate::bus::Bus;
use crate::ctx::ProcessCtx;
use crate::error::ProcessError;
use crate::primitives::EXIT_TOPIC;
use crate::status::ExitStatus;

/// Capabilities every process holds on top of the clock and log ones: waiting for its
/// children and killing its descendants (resources `children/PID` and `descendants/PID`,
/// named only after the kernel checked the relation), and calling the tools of its own image's
/// tool table (the table is the grant; a name not in it is `not-found`). The policy still
/// decides them and they are audited; they are never passed on to children.
pub const PROCESS_AMBIENT: &[&str] = &[
    "process.wait:children/*",
    "process.kill:descendants/*",
    "tools.call:*",
];

/// How often a host looks at the process table for kills made from other terminals.
const TABLE_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// What to start.
#[derive(Debug, Clone)]
pub struct Start {
    /// Image reference: `NAME`, `NAME:VERSION` or `sha256:PREFIX`.
    pub image: String,
    /// JSON input handed to the agent's `run`.
    pub input: String,
    /// Capabilities to hold; `None` means the image's own. For a child these must lie within
    /// the parent's (checked by the caller of [`Kernel::start`] through `process.spawn`).
    pub capabilities: Option<Vec<Capability>>,
    /// Working directory on the host.
    pub workdir: PathBuf,
    /// Working directory as shown to the process, relative to its tree's root.
    pub cwd: String,
    /// The parent, for a spawned child.
    pub parent: Option<u64>,
}

/// Runs AgentProcesses. One kernel serves one process tree per `start` without a parent; all
/// share the host's engine, audit log and state directory.
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

/// A process this kernel runs: how to learn its end, and how to stop it.
struct Running {
    exit: watch::Receiver<Option<ExitStatus>>,
    abort: Option<tokio::task::AbortHandle>,
}

pub(crate) struct Inner {
    pub(crate) host: ToolHost,
    linker: Linker<ProcessCtx>,
    pub(crate) table: ProcessTable,
    pub(crate) images: ImageStore,
    pub(crate) memory: ObjectStore,
    pub(crate) bus: Bus,
    host_id: String,
    running: Mutex<HashMap<u64, Running>>,
    agents: Mutex<HashMap<String, AgentPre<ProcessCtx>>>,
    policies: Mutex<HashMap<String, Arc<Policy>>>,
    pub(crate) tools: Mutex<HashMap<String, Arc<libos::LoadedTool>>>,
}

impl Kernel {
    /// A kernel over a new tool host with `options` (state directory, allocation, clock).
    pub fn new(options: HostOptions) -> Result<Kernel, ProcessError> {
        let host =
            ToolHost::new(options).map_err(|e: HostError| ProcessError::Host(e.to_string()))?;
        let linker = link(&host).map_err(|e| ProcessError::Host(format!("{e:#}")))?;
        let table = ProcessTable::open(host.state().db_path())?;
        let images = ImageStore::open(host.state().root())?;
        let memory = ObjectStore::open(host.state().db_path())
            .map_err(|e| ProcessError::Host(e.to_string()))?;
        let host_id = format!("libos@{}", std::process::id());
        let kernel = Kernel {
            inner: Arc::new(Inner {
                host,
                linker,
                table,
                images,
                memory,
                bus: Bus::default(),
                host_id,
                running: Mutex::default(),
                agents: Mutex::default(),
                policies: Mutex::default(),
                tools: Mutex::default(),
            }),
        };
        kernel.watch_table();
        Ok(kernel)
    }

    /// Polls the process table for processes of this host that ended behind its back (killed
    /// by `libos kill` from another terminal) and stops them. Runs while the kernel lives, if
    /// a tokio runtime is current.
    fn watch_table(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(TABLE_POLL);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                inner.reap_external_ends();
            }
        });
    }

    /// Ends the tree of root `pid`: kills every descendant that is still running.
    pub fn end_tree(&self, pid: u64) -> Result<(), ProcessError> {
        for child in self.inner.table.children(pid)? {
            if ExitStatus::of_state(&child.state).is_none() {
                self.inner.kill(child.pid)?;
            }
        }
        Ok(())
    }

    /// The tool host underneath (audit log, state directory).
    pub fn host(&self) -> &ToolHost {
        &self.inner.host
    }

    /// The process table.
    pub fn table(&self) -> &ProcessTable {
        &self.inner.table
    }

    /// Starts a process and returns its pid; it runs as a task on the current tokio runtime.
    pub async fn start(&self, start: Start) -> Result<u64, ProcessError> {
        Inner::start(&self.inner, start).await
    }

    /// Waits until `pid` has ended and returns how.
    pub async fn wait(&self, pid: u64) -> Result<ExitStatus, ProcessError> {
        self.inner.wait(pid).await
    }

    /// Emits an event from the host itself (source 0) to every process waiting on `topic`.
    pub fn emit(&self, topic: &str, payload: &serde_json::Value) {
        self.inner.bus.emit(topic, payload.to_string(), 0);
    }

    /// Kills `pid` and its whole subtree; returns the pids that were killed.
    pub fn kill(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.inner.kill(pid)
    }
}

impl Inner {
    pub(crate) async fn start(self: &Arc<Self>, start: Start) -> Result<u64, ProcessError> {
        let image = match self.images.get(&start.image) {
            Ok(image) => Arc::new(image),
            Err(ImageError::NotFound { .. }) => {
                return Err(ProcessError::NotFound(format!("image {:?}", start.image)));
            }
            Err(e) => return Err(e.into()),
        };
        let capabilities = match start.capabilities {
            Some(caps) => caps,
            None => image
                .capabilities
                .iter()
                .map(|c| c.parse())
                .collect::<Result<Vec<Capability>, _>>()
                .map_err(|e| ProcessError::Invalid(format!("image capability: {e}")))?,
        };
        let held = CapabilitySet::new(capabilities.clone())
            .map_err(|e| ProcessError::Invalid(e.to_string()))?;
        let policy = self.policy(&image)?;
        let pre = self.agent(&image).await?;
        let record = self.table.create(NewProcess {
            parent: start.parent,
            image: image.reference(),
            image_digest: image.digest.to_string(),
            cwd: start.cwd.clone(),
            capabilities: capabilities.iter().map(ToString::to_string).collect(),
            host: self.host_id.clone(),
        })?;
        let pid = record.pid;
        let limits = Limits {
            fuel: u64::MAX / 2,
            timeout: image.limits.wall_clock,
            max_memory: usize::try_from(image.limits.memory).unwrap_or(usize::MAX),
            ..Limits::default()
        };
        let mut decided_with = capabilities.clone();
        decided_with.extend(PROCESS_AMBIENT.iter().filter_map(|c| c.parse().ok()));
        let options = CallOptions {
            capabilities: decided_with,
            policy: Arc::clone(&policy),
            workdir: Some(start.workdir.clone()),
            limits,
            seed: pid,
        };
        let (call, _stdout, _stderr) = self
            .host
            .process_context(format!("pid:{pid}").into(), &options)
            .map_err(|e| ProcessError::Host(e.to_string()))?;
        let ctx = ProcessCtx {
            pid,
            parent: start.parent,
            image: Arc::clone(&image),
            capabilities,
            held,
            policy,
            workdir: start.workdir,
            cwd: start.cwd,
            call,
            kernel: Arc::clone(self),
            seen: HashMap::new(),
        };
        let (tx, rx) = watch::channel(None);
        self.lock_running().insert(
            pid,
            Running {
                exit: rx,
                abort: None,
            },
        );
        let this = Arc::clone(self);
        let fuel_per_slice = image.limits.fuel_per_slice;
        let task = tokio::spawn(async move {
            let status = this
                .run(pid, pre, ctx, &start.input, limits, fuel_per_slice)
                .await;
            this.finish(pid, status, &tx);
        });
        if let Some(running) = self.lock_running().get_mut(&pid) {
            running.abort = Some(task.abort_handle());
        }
        Ok(pid)
    }

    /// Runs the agent of process `pid` to its end.
    async fn run(
        &self,
        pid: u64,
        pre: AgentPre<ProcessCtx>,
        ctx: ProcessCtx,
        input: &str,
        limits: Limits,
        fuel_per_slice: u64,
    ) -> ExitStatus {
        let mut store = Store::new(self.host.engine(), ctx);
        store.limiter(|p| p.call.limiter_mut());
        if let Err(e) = store.set_fuel(limits.fuel) {
            return ExitStatus::Failed(format!("host error: {e:#}"));
        }
        if let Err(e) = store.fuel_async_yield_interval(Some(fuel_per_slice.max(1))) {
            return ExitStatus::Failed(format!("host error: {e:#}"));
        }
        let deadline = Instant::now() + limits.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut cx| {
            cx.data_mut().call.hand_off_audit();
            if Instant::now() >= deadline {
                cx.data_mut().call.limiter_mut().hit = Some(LimitKind::Time);
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        if let Err(e) = self
            .table
            .transitions_to(pid, &[State::Ready, State::Running])
        {
            return ExitStatus::Failed(format!("host error: {e}"));
        }
        let outcome = async {
            let agent = pre.instantiate_async(&mut store).await?;
            agent.call_run(&mut store, input).await
        }
        .await;
        let hit = store.data_mut().call.limiter_mut().hit;
        match outcome {
            Ok(Ok(output)) => ExitStatus::Exited(output),
            Ok(Err(message)) => ExitStatus::Failed(message),
            Err(trap) => ExitStatus::Failed(trap_reason(&trap, hit)),
        }
    }

    /// Records the end of `pid` (unless it was killed meanwhile) and wakes its waiters.
    fn finish(&self, pid: u64, status: ExitStatus, tx: &watch::Sender<Option<ExitStatus>>) {
        let recorded = match self.table.transition(pid, status.to_state()) {
            Ok(_) => status,
            Err(e) => match self
                .table
                .get(pid)
                .ok()
                .and_then(|r| ExitStatus::of_state(&r.state))
            {
                Some(already) => already,
                None => {
                    tracing::error!(pid, error = %e, "recording the end of a process failed");
                    status
                }
            },
        };
        self.announce_exit(pid, &recorded);
        tx.send_replace(Some(recorded));
        if let Some(running) = self.lock_running().get_mut(&pid) {
            running.abort = None;
        }
    }

    pub(crate) async fn wait(&self, pid: u64) -> Result<ExitStatus, ProcessError> {
        let rx = self.lock_running().get(&pid).map(|r| r.exit.clone());
        let Some(mut rx) = rx else {
            let record = self
                .table
                .get(pid)
                .map_err(|_| ProcessError::NotFound(format!("process {pid}")))?;
            return ExitStatus::of_state(&record.state).ok_or_else(|| {
                ProcessError::Invalid(format!(
                    "process {pid} is run by another host ({}); wait for it there",
                    record.host
                ))
            });
        };
        if let Some(status) = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|s| s.clone())
        {
            return Ok(status);
        }
        // The task was aborted (killed) before it could report: the table has the end.
        self.table
            .get(pid)
            .ok()
            .and_then(|r| ExitStatus::of_state(&r.state))
            .ok_or_else(|| ProcessError::Host(format!("process {pid} vanished")))
    }

    pub(crate) fn kill(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.table
            .get(pid)
            .map_err(|_| ProcessError::NotFound(format!("process {pid}")))?;
        let killed = self.table.kill_subtree(pid)?;
        let mut running = self.lock_running();
        for victim in &killed {
            if let Some(r) = running.get_mut(victim)
                && let Some(abort) = r.abort.take()
            {
                abort.abort();
            }
        }
        drop(running);
        // Waiters learn the end from the table's state; a task aborted before it recorded
        // anything leaves `Killed` there.
        for victim in &killed {
            self.notify_killed(*victim);
        }
        Ok(killed)
    }

    /// Emits the end of `pid` on the exit topic, where its parent can wait for it.
    fn announce_exit(&self, pid: u64, status: &ExitStatus) {
        let payload = serde_json::json!({ "pid": pid, "status": status });
        self.bus.emit(EXIT_TOPIC, payload.to_string(), 0);
    }

    /// Stops the running processes of this host whose table rows say they have ended.
    fn reap_external_ends(&self) {
        let running: Vec<u64> = self
            .lock_running()
            .iter()
            .filter(|(_, r)| r.abort.is_some())
            .map(|(pid, _)| *pid)
            .collect();
        if running.is_empty() {
            return;
        }
        let Ok(killed) = self.table.killed_on(&self.host_id) else {
            return;
        };
        let killed: std::collections::HashSet<u64> = killed.into_iter().collect();
        for pid in running.into_iter().filter(|pid| killed.contains(pid)) {
            if let Some(abort) = self
                .lock_running()
                .get_mut(&pid)
                .and_then(|r| r.abort.take())
            {
                abort.abort();
            }
            self.notify_killed(pid);
        }
    }

    fn notify_killed(&self, pid: u64) {
        let rx = self.lock_running().get(&pid).map(|r| r.exit.clone());
        if let Some(rx) = rx
            && rx.borrow().is_none()
        {
            // The sender lives in the aborted task; a fresh pair carries the end instead.
            self.announce_exit(pid, &ExitStatus::Killed);
            let (tx, rx) = watch::channel(Some(ExitStatus::Killed));
            drop(tx);
            if let Some(r) = self.lock_running().get_mut(&pid) {
                r.exit = rx;
            }
        }
    }

    /// The parsed policy of `image`, parsed once per host and image. Sharing one `Arc` also
    /// lets processes of the same image share their authorities' verdict caches.
    fn policy(&self, image: &Image) -> Result<Arc<Policy>, ProcessError> {
        let digest = image.digest.to_string();
        let mut policies = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = policies.get(&digest) {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(match &image.policy {
            Some(text) => Policy::parse(text, &format!("{}/policy.cedar", image.name))
                .map_err(|e| ProcessError::Invalid(e.to_string()))?,
            None => Policy::permit_all(),
        });
        policies.insert(digest, Arc::clone(&policy));
        Ok(policy)
    }

    /// The pre-instantiated agent of `image`, compiled once per host.
    async fn agent(&self, image: &Image) -> Result<AgentPre<ProcessCtx>, ProcessError> {
        let digest = image.agent.digest.to_string();
        if let Some(pre) = self.lock_agents().get(&digest) {
            return Ok(pre.clone());
        }
        let path = self.images.component_path(&image.agent.digest);
        let (component, _, _, _) =
            self.host.compile(&path).await.map_err(|e| {
                ProcessError::Invalid(format!("agent of {}: {e}", image.reference()))
            })?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(AgentPre::new)
            .map_err(|e| {
                ProcessError::Invalid(format!(
                    "agent of {} is not an agent component: {e:#}",
                    image.reference()
                ))
            })?;
        self.lock_agents().insert(digest, pre.clone());
        Ok(pre)
    }

    /// The loaded tool `name` of `image`, loaded once per host.
    pub(crate) async fn tool(
        &self,
        image: &Image,
        name: &str,
    ) -> Result<Arc<libos::LoadedTool>, ProcessError> {
        let Some(component) = image.tools.get(name) else {
            return Err(ProcessError::NotFound(format!("tool {name:?}")));
        };
        let digest = component.digest.to_string();
        if let Some(tool) = self.lock_tools().get(&digest) {
            return Ok(Arc::clone(tool));
        }
        let tool = Arc::new(
            self.host
                .load(&self.images.component_path(&component.digest))
                .await
                .map_err(|e| ProcessError::Invalid(format!("tool {name:?}: {e}")))?,
        );
        self.lock_tools().insert(digest, Arc::clone(&tool));
        Ok(tool)
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_agents(&self) -> std::sync::MutexGuard<'_, HashMap<String, AgentPre<ProcessCtx>>> {
        self.agents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_tools(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<libos::LoadedTool>>> {
        self.tools.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Links the agent world: the shared primitives through the process's call context, the
/// process-level interfaces on the process itself, and the WASI baseline.
fn link(host: &ToolHost) -> wasmtime::Result<Linker<ProcessCtx>> {
    use libos::bindings::libos::runtime as shared;
    let mut linker = Linker::new(host.engine());
    shared::types::add_to_linker::<ProcessCtx, HasSelf<CallCtx>>(&mut linker, |p| &mut p.call)?;
    shared::fs::add_to_linker::<ProcessCtx, HasSelf<CallCtx>>(&mut linker, |p| &mut p.call)?;
    shared::clock::add_to_linker::<ProcessCtx, HasSelf<CallCtx>>(&mut linker, |p| &mut p.call)?;
    shared::log::add_to_linker::<ProcessCtx, HasSelf<CallCtx>>(&mut linker, |p| &mut p.call)?;
    use crate::bindings::libos::runtime as own;
    own::process::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(&mut linker, |p| p)?;
    own::tools::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(&mut linker, |p| p)?;
    own::memory::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(&mut linker, |p| p)?;
    own::events::add_to_linker::<ProcessCtx, HasSelf<ProcessCtx>>(&mut linker, |p| p)?;
    libos::wasm::wasi::add_to_linker(&mut linker)?;
    Ok(linker)
}

fn trap_reason(err: &wasmtime::Error, hit: Option<LimitKind>) -> String {
    if let Some(kind) = hit {
        return format!("limit exceeded: {}", kind.as_str());
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => "limit exceeded: fuel".into(),
        Some(Trap::Interrupt) => "limit exceeded: time".into(),
        Some(trap) => format!("trap: {trap}"),
        None => format!("trap: {err:#}"),
    }
}
