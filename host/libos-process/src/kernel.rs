//! The kernel: starts AgentProcesses from images, runs each as a tokio task (see `run.rs`),
//! and lets callers wait for, kill, pause and resume them (see `control.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use libos::host::{CallOptions, HostOptions, ToolHost};
use libos::wasm::pipe::CappedPipe;
use libos::{HostError, Limits};
use libos_authority::{Capability, CapabilitySet, Policy};
use libos_image::{Image, ImageStore};
use libos_memory::ObjectStore;
use libos_proctable::{HostLease, NewProcess, ProcessTable};
use tokio::sync::{Notify, watch};
use wasmtime::component::Linker;

use crate::bindings::AgentPre;
use crate::budget::Budget;
use crate::bus::Bus;
use crate::ctx::{ProcessCtx, Reported};
use crate::error::ProcessError;
use crate::pause::{Pausable, PauseFlag};
use crate::status::ExitStatus;
use crate::subtree::{Admission, Full, Subtree};

/// Capabilities every process holds on top of the clock and log ones: waiting for its
/// children, killing and signalling its descendants (resources `children/PID` and
/// `descendants/PID`, named only after the kernel checked the relation), talking with its
/// parent and children (`parent/PID`, `children/PID`), reading its own message queue, and
/// calling the tools of its own image's tool table (the table is the grant; a name not in it
/// is `not-found`). The policy still decides them and they are audited; they are never passed
/// on to children.
pub const PROCESS_AMBIENT: &[&str] = &[
    "process.wait:children/*",
    "process.kill:descendants/*",
    "process.signal:descendants/*",
    "process.send:children/*",
    "process.send:parent/*",
    "process.recv:self",
    "tools.call:*",
];

/// [`PROCESS_AMBIENT`], parsed once (parsing compiles each pattern).
static AMBIENT: std::sync::LazyLock<Vec<Capability>> = std::sync::LazyLock::new(|| {
    PROCESS_AMBIENT
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect()
});

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
    /// The working directory of the process tree on the host (a child's is its parent's).
    pub workdir: PathBuf,
    /// Current directory as shown to the process: `/` and the path from the tree's root.
    pub cwd: String,
    /// The parent, for a spawned child.
    pub parent: Option<u64>,
}

/// What [`Inner::launch`] runs.
pub(crate) struct Launch {
    pub(crate) pre: AgentPre<ProcessCtx>,
    pub(crate) ctx: ProcessCtx,
    pub(crate) pipes: (CappedPipe, CappedPipe),
    pub(crate) input: String,
    pub(crate) budget: Arc<Budget>,
    pub(crate) subtree: Arc<Subtree>,
    pub(crate) admission: Admission,
    /// Records (the spawn's) to be stored before it runs any code.
    pub(crate) after: Option<libos::permit::RecordPending>,
    /// Paused from the start (adopted paused).
    pub(crate) paused: bool,
    /// Its start was queued behind the spawn: it is committed before the process runs any
    /// code, so nothing it does can outlive a crash that loses its row.
    pub(crate) commit_first: bool,
    /// Stored once its parent's journal holds everything before the spawn: it runs no code
    /// before.
    pub(crate) parent_stored: Option<libos_journal::SharedPending>,
}

/// The key of a child being spawned: the entry of its parent's journal that spawns it, and
/// the parent's journal barrier handed over at the spawn (stored once every entry before it
/// is), which the child waits for before it runs any code.
pub(crate) struct SpawnKey {
    pub(crate) seq: u64,
    pub(crate) parent_stored: Option<libos_journal::SharedPending>,
}

/// Runs AgentProcesses. One kernel serves one process tree per `start` without a parent; all
/// share the host's engine, audit log and state directory.
#[derive(Clone)]
pub struct Kernel {
    pub(crate) inner: Arc<Inner>,
}

/// A process this kernel runs: how to learn its end, stop it, pause it and wake its `recv`.
pub(crate) struct Running {
    pub(crate) exit: watch::Receiver<Option<ExitStatus>>,
    pub(crate) abort: Option<tokio::task::AbortHandle>,
    pub(crate) pause: Arc<PauseFlag>,
    pub(crate) mail: Arc<Notify>,
    /// Its budget, which its children's budgets are charged through.
    pub(crate) budget: Arc<Budget>,
    /// Set (under the lock of the running map) when this host kills it: its end is then the
    /// kill's, recorded and announced by the kill, not by the task.
    pub(crate) killed: bool,
    /// The live processes below it, which its children are admitted into.
    pub(crate) subtree: Arc<Subtree>,
    /// Counts it as live in its ancestors' subtrees and the host until this entry drops.
    pub(crate) _admission: Admission,
}

pub(crate) struct Inner {
    pub(crate) host: ToolHost,
    pub(crate) linker: Linker<ProcessCtx>,
    pub(crate) table: ProcessTable,
    pub(crate) images: ImageStore,
    pub(crate) memory: ObjectStore,
    /// The state directory's human queue (approval requests, questions, grants, rules).
    pub(crate) human: Arc<libos_human::HumanQueue>,
    /// The journal of every process's primitive calls.
    pub(crate) journal: Arc<libos_journal::Journal>,
    /// This host's processes waiting for a person (see `waiting.rs`).
    pub(crate) human_waiters: Arc<crate::waiting::HumanWaiters>,
    pub(crate) bus: Bus,
    /// Every live process of this host, bounded by its `max_processes`.
    pub(crate) processes: Arc<Subtree>,
    pub(crate) host_id: String,
    /// Held while this kernel lives: tells other invocations it is alive.
    _lease: HostLease,
    pub(crate) running: Mutex<HashMap<u64, Running>>,
    /// The newest ends of processes this host ran, for `wait` after the end.
    pub(crate) recent: Mutex<crate::recent::RecentExits>,
    /// The newest message id this host has seen in the table (see `control.rs`).
    pub(crate) last_message: AtomicU64,
    /// Polls of the table so far, and when the last one started (see `control.rs`).
    pub(crate) polls: AtomicU64,
    pub(crate) last_poll_ns: AtomicU64,
    /// The processes of this host the table had paused at its last poll (see `control.rs`).
    pub(crate) last_paused: Mutex<std::collections::HashSet<u64>>,
    pub(crate) agents: Mutex<HashMap<String, AgentPre<ProcessCtx>>>,
    pub(crate) policies: Mutex<HashMap<String, Arc<Policy>>>,
    /// Policies inheriting others, by image digest and the inherited chain's digest.
    pub(crate) chains: Mutex<HashMap<String, Arc<Policy>>>,
    pub(crate) tools: Mutex<HashMap<String, Arc<libos::LoadedTool>>>,
    /// The processes of this host that registered or inherited a tool with `inherit`: only
    /// their spawns look for tools to pass on (see `primitives/register.rs`).
    pub(crate) passing_tools: Mutex<std::collections::HashSet<u64>>,
}

impl Kernel {
    /// A kernel over a new tool host with `options` (state directory, allocation, clock).
    pub fn new(options: HostOptions) -> Result<Kernel, ProcessError> {
        let max_processes = options.max_processes;
        let host =
            ToolHost::new(options).map_err(|e: HostError| ProcessError::Host(e.to_string()))?;
        let linker = link(&host).map_err(|e| ProcessError::Host(format!("{e:#}")))?;
        let table = ProcessTable::open(host.state().db_path())?;
        let images = ImageStore::open(host.state().root())?;
        let memory = ObjectStore::open(host.state().db_path())
            .map_err(|e| ProcessError::Host(e.to_string()))?;
        let human = Arc::new(
            libos_human::HumanQueue::open(host.state().db_path())
                .map_err(|e| ProcessError::Host(e.to_string()))?,
        );
        // A batch of the journal commits the table's queued starts first: a parent's spawn
        // entry is never stored before its child's row.
        let flush_table = table.flusher();
        let journal = Arc::new(
            libos_journal::Journal::open_after(
                &host.state().db_path(),
                Box::new(move || flush_table().map_err(|e| e.to_string())),
            )
            .map_err(|e| ProcessError::Host(e.to_string()))?,
        );
        let hosts = host.state().hosts_dir();
        // Not the id of a dead host whose orphans are still in the table: those are adopted.
        let lease = HostLease::acquire_avoiding(&hosts, &table.live_hosts()?)?;
        let host_id = lease.id().to_owned();
        let last_message = AtomicU64::new(table.last_message()?);
        let bus = Bus::starting_at(table.last_event()?);
        let kernel = Kernel {
            inner: Arc::new(Inner {
                host,
                linker,
                table,
                images,
                memory,
                human,
                journal,
                human_waiters: Default::default(),
                bus,
                processes: Subtree::host(u64::from(max_processes)),
                host_id,
                _lease: lease,
                running: Mutex::default(),
                recent: Mutex::default(),
                last_message,
                last_paused: Mutex::default(),
                polls: AtomicU64::new(0),
                last_poll_ns: AtomicU64::new(0),
                agents: Mutex::default(),
                policies: Mutex::default(),
                chains: Mutex::default(),
                tools: Mutex::default(),
                passing_tools: Mutex::default(),
            }),
        };
        kernel.watch_table();
        kernel.inner.watch_decisions();
        Ok(kernel)
    }

    /// Ends the tree of root `pid` (which has ended): kills every descendant still live, at
    /// any depth, each recorded `killed` and announced, in one transaction; returns their
    /// pids. Starts queued behind a spawn are committed first, so none escapes.
    pub fn end_tree(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.inner.table.flush()?;
        self.inner.kill(pid)
    }

    /// The processes this kernel runs now (those started and not yet ended), which its
    /// `max_processes` bounds.
    pub fn live_processes(&self) -> u64 {
        self.inner.processes.live()
    }

    /// This host's id in the process table (`libos@<os pid>`).
    pub fn host_id(&self) -> &str {
        &self.inner.host_id
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
    ///
    /// A child (`parent` set) is started only by its parent's `process.spawn`, which passes
    /// the parent's policy on; here `parent` must be `None`.
    pub async fn start(&self, start: Start) -> Result<u64, ProcessError> {
        if start.parent.is_some() {
            return Err(ProcessError::Invalid(
                "a child is started by its parent's process.spawn, which passes its policy on"
                    .into(),
            ));
        }
        Inner::start(&self.inner, start, None, None, None).await
    }

    /// Waits until `pid` has ended and returns how.
    pub async fn wait(&self, pid: u64) -> Result<ExitStatus, ProcessError> {
        self.inner.wait(pid).await
    }

    /// Emits an event from the host itself (source 0) to every process waiting on `topic`,
    /// in this host or another.
    ///
    /// # Errors
    ///
    /// [`ProcessError::Host`] if the event cannot be stored.
    pub fn emit(&self, topic: &str, payload: &serde_json::Value) -> Result<(), ProcessError> {
        self.inner.emit(topic, &payload.to_string(), 0)
    }

    /// Kills `pid` and its whole subtree; returns the pids that were killed.
    pub fn kill(&self, pid: u64) -> Result<Vec<u64>, ProcessError> {
        self.inner.kill(pid)
    }

    /// Commits every process table change this kernel has queued (starts, a process's own
    /// blocking and waking, and ends are recorded behind the caller): after this, other `libos` invocations see them. Dropping
    /// the kernel does the same.
    ///
    /// # Errors
    ///
    /// [`ProcessError::Host`] if the table cannot commit.
    pub fn flush(&self) -> Result<(), ProcessError> {
        Ok(self.inner.table.flush()?)
    }
}

impl Inner {
    /// Starts `start`, under its image's policy inheriting `inherits` (the policy in force of
    /// the parent that spawns it). With `after`, the process runs no code before those
    /// records (its spawn's) are stored, and fails, never having run, if they cannot be.
    /// `spawned_at` is the entry of the parent's journal that spawns it (see
    /// [`libos_proctable::Resume::spawned_at`]).
    pub(crate) async fn start(
        self: &Arc<Self>,
        start: Start,
        inherits: Option<(&Arc<Policy>, &[String])>,
        after: Option<libos::permit::RecordPending>,
        spawned_at: Option<SpawnKey>,
    ) -> Result<u64, ProcessError> {
        let (spawned_at, parent_stored) = match spawned_at {
            Some(key) => (Some(key.seq), key.parent_stored),
            None => (None, None),
        };
        let (inherits, inherited_chain) = match inherits {
            Some((policy, chain)) => (Some(policy), chain),
            None => (None, &[][..]),
        };
        let image = self.images.get_shared(&start.image)?;
        let capabilities = match start.capabilities {
            Some(caps) => caps,
            None => image_capabilities(&image)?,
        };
        let pre = self.agent(&image).await?;
        let policy = self.policy_inheriting(&image, inherits)?;
        // A parent this host runs and that has not ended: the table cannot refuse the
        // child, so its start is recorded behind the spawn (see `ProcessTable::start_behind`).
        let (parent_budget, parent_live_here, parent_subtree) = match start.parent {
            None => (None, true, None),
            Some(p) => match self.lock_running().get(&p) {
                Some(r) => (
                    Some(Arc::clone(&r.budget)),
                    !r.killed && r.exit.borrow().is_none(),
                    Some(Arc::clone(&r.subtree)),
                ),
                None => (None, false, None),
            },
        };
        // Counted live below its parent (and every ancestor) and in the host before anything
        // is recorded: a full level refuses the start and nothing is left behind.
        let above = parent_subtree.unwrap_or_else(|| Arc::clone(&self.processes));
        let admission = above
            .admit()
            .map_err(|full| refuse_full(&start.image, start.parent, full))?;
        let subtree = Subtree::below(&above, u64::from(image.limits.max_descendants));
        let budget = Budget::new(&image.budget, parent_budget);
        let policy_chain = crate::ctx::chain_with(&image.digest.to_string(), inherited_chain);
        // Events stored before it started, in this host or another, are not for it (an
        // exit notice still queued is not counted, but that of an earlier process is
        // never for it anyway: it only sees its own children's).
        let events_from = self
            .table
            .last_event()
            .unwrap_or_else(|_| self.bus.newest());
        let new = NewProcess {
            parent: start.parent,
            image: image.reference(),
            image_digest: image.digest.to_string(),
            cwd: start.cwd.clone(),
            capabilities: capabilities.iter().map(ToString::to_string).collect(),
            host: self.host_id.clone(),
            policy_chain: policy_chain.clone(),
            resume: Some(libos_proctable::Resume {
                input: start.input.clone(),
                workdir: start.workdir.to_string_lossy().into_owned(),
                events_from,
                replay_from: 1,
                spawned_at,
                budget: crate::budget::stored(&image.budget),
            }),
        };
        let pid = if parent_live_here {
            self.table.start_behind(new)?
        } else {
            self.table.create_running(new)?.pid
        };
        // Before the child can run: it sees its parent's inheritable tools from its first call.
        if let Some(parent) = start.parent {
            self.pass_on_tools(parent, pid);
        }
        // An image committed from a checkpoint: the process starts with its objects.
        if image.memory.is_some()
            && let Err(e) = self.seed_memory(pid, &image)
        {
            let _ = self.table.advance(
                pid,
                &[libos_proctable::State::Failed {
                    reason: e.to_string(),
                }],
            );
            return Err(e);
        }
        let (ctx, pipes) = match self.context(
            pid,
            start.parent,
            (image, policy),
            capabilities,
            Arc::clone(&budget),
            (start.workdir, start.cwd),
        ) {
            Ok((mut ctx, pipes)) => {
                ctx.policy_chain = policy_chain;
                ctx.events_from = events_from;
                (ctx, pipes)
            }
            Err(e) => {
                let _ = self.table.advance(
                    pid,
                    &[libos_proctable::State::Failed {
                        reason: e.to_string(),
                    }],
                );
                return Err(e);
            }
        };
        self.launch(
            pid,
            Launch {
                pre,
                ctx,
                pipes,
                input: start.input,
                budget,
                subtree,
                admission,
                after,
                paused: false,
                commit_first: parent_live_here,
                parent_stored,
            },
        );
        Ok(pid)
    }

    /// Puts the objects `image` starts its processes with ([`libos_image::Image::memory`],
    /// read back against its digest) into `pid`'s namespace, within the image's limits.
    fn seed_memory(&self, pid: u64, image: &Image) -> Result<(), ProcessError> {
        let memory = self.images.read_memory(image)?;
        crate::checkpoint::replace_memory(&self.memory, pid, Some(&memory), image)
    }

    /// Runs process `pid` (recorded in the table, admitted, its context built) as a task of
    /// this host.
    pub(crate) fn launch(self: &Arc<Self>, pid: u64, run: Launch) {
        let Launch {
            pre,
            ctx,
            pipes,
            input,
            budget,
            subtree,
            admission,
            after,
            paused,
            commit_first,
            parent_stored,
        } = run;
        let (tx, rx) = watch::channel(None);
        let pause = Arc::new(PauseFlag::default());
        if paused {
            pause.set(true);
        }
        self.lock_running().insert(
            pid,
            Running {
                exit: rx,
                abort: None,
                pause: Arc::clone(&pause),
                mail: Arc::new(Notify::new()),
                budget,
                killed: false,
                subtree,
                _admission: admission,
            },
        );
        let this = Arc::clone(self);
        // Boxed before the task takes it: what a task captures keeps its room in the task for
        // the task's whole life, and the context (almost a kilobyte) moves on into the store.
        let ctx = Box::new(ctx);
        let task = tokio::spawn(async move {
            if commit_first && let Err(e) = this.table.flush() {
                this.finish(pid, ExitStatus::Failed(format!("not started: {e}")), &tx);
                return;
            }
            if let Some(parent) = parent_stored
                && let Err(e) = parent.stored().await
            {
                let why = format!("not started: its parent's journal: {e}");
                this.finish(pid, ExitStatus::Failed(why), &tx);
                return;
            }
            if let Some(after) = after
                && let Err(e) = after.stored().await
            {
                let why = match e {
                    libos::bindings::RuntimeError::Io(why) => why,
                    other => format!("{other:?}"),
                };
                this.finish(pid, ExitStatus::Failed(format!("not started: {why}")), &tx);
                return;
            }
            let ended = Pausable::new(this.run(pid, pre, ctx, pipes, input), pause).await;
            this.finish_with_output(pid, ended, &tx);
        });
        if let Some(running) = self.lock_running().get_mut(&pid) {
            running.abort = Some(task.abort_handle());
        }
    }

    /// The data of the store of process `pid` running `image` under `policy` with
    /// `capabilities`, and the pipes its stdout and stderr go to.
    pub(crate) fn context(
        self: &Arc<Self>,
        pid: u64,
        parent: Option<u64>,
        (image, policy): (Arc<Image>, Arc<Policy>),
        capabilities: Vec<Capability>,
        budget: Arc<Budget>,
        (workdir, cwd): (PathBuf, String),
    ) -> Result<(ProcessCtx, (CappedPipe, CappedPipe)), ProcessError> {
        let held = CapabilitySet::new(capabilities.clone())
            .map_err(|e| ProcessError::Invalid(e.to_string()))?;
        let max_journal = image.limits.max_journal_bytes;
        let mut decided_with = capabilities.clone();
        decided_with.extend(AMBIENT.iter().cloned());
        let options = CallOptions {
            on_behalf_of: None,
            capabilities: decided_with,
            policy: Arc::clone(&policy),
            workdir: Some(workdir.clone()),
            cwd: crate::ctx::cwd_relative(&cwd),
            limits: limits_of(&image),
            // What it draws is journaled: nothing needs to draw it again.
            seed: libos::host::Seed::Fresh,
            meter: Some(Arc::clone(&budget) as Arc<dyn libos::meter::Meter>),
            human: Some(libos::approval::HumanLink {
                queue: Arc::clone(&self.human),
                pid,
                // Remembered answers are keyed by the exact image (digest included).
                image: image.exact().into(),
                grants_used: Some(Arc::new(crate::journal::GrantsUsed::new(
                    Arc::clone(&self.journal),
                    pid,
                ))),
            }),
        };
        let (call, stdout, stderr) = self
            .host
            .process_context(format!("pid:{pid}").into(), &options)
            .map_err(|e| ProcessError::Host(e.to_string()))?;
        let events_per_second = image.limits.events_per_second;
        let log_cap = image.limits.max_log_bytes;
        let ctx = ProcessCtx {
            pid,
            parent,
            image,
            capabilities,
            held,
            policy,
            workdir,
            cwd,
            call,
            kernel: Arc::clone(self),
            seen: HashMap::new(),
            children_started: 0,
            // Events stored before it started, in this host or another, are not for it (an
            // exit notice still queued is not counted, but that of an earlier process is
            // never for it anyway: it only sees its own children's).
            events_from: self
                .table
                .last_event()
                .unwrap_or_else(|_| self.bus.newest()),
            emits: crate::rate::Rate::new(events_per_second),
            log_quota: crate::log_quota::LogQuota::new(log_cap),
            policy_chain: Vec::new(),
            exec: None,
            budget: Arc::clone(&budget),
            fuel_left: 0,
            fuel_burnt: 0,
            restorable: false,
            reported: Reported::default(),
            journal: crate::journal::CallJournal::new(Arc::clone(&self.journal), pid)
                .charging(Arc::clone(&budget))
                .limited(max_journal),
            spawning_at: None,
        };
        Ok((ctx, (stdout, stderr)))
    }

    /// Waits for the end of `pid`. A process this host is about to run (being adopted, or
    /// going back to a checkpoint: its row names this host, its task is not there yet) is
    /// waited for as if it ran.
    pub(crate) async fn wait(&self, pid: u64) -> Result<ExitStatus, ProcessError> {
        loop {
            let rx = self.lock_running().get(&pid).map(|r| r.exit.clone());
            let Some(mut rx) = rx else {
                if let Some(status) = self.lock_recent().get(pid) {
                    return Ok(status);
                }
                let record = self
                    .table
                    .get(pid)
                    .map_err(|_| ProcessError::NotFound(format!("process {pid}")))?;
                if let Some(status) = ExitStatus::of_state(&record.state) {
                    return Ok(status);
                }
                if record.host == self.host_id {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
                return Err(ProcessError::Invalid(format!(
                    "process {pid} is run by another host ({}); wait for it there",
                    record.host
                )));
            };
            if let Some(status) = rx
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|s| s.clone())
            {
                return Ok(status);
            }
            // The task was aborted before it could report: killed (the table has the end, and
            // the kill took it out of the running map), or stopped to go back to a checkpoint
            // (it runs again here in a moment).
            while self
                .lock_running()
                .get(&pid)
                .is_some_and(|r| r.exit.has_changed().is_err())
            {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    }

    pub(crate) fn lock_recent(&self) -> std::sync::MutexGuard<'_, crate::recent::RecentExits> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error of a start of `image` (by `parent`) refused because `full` is full, logged with what to change.
fn refuse_full(image: &str, parent: Option<u64>, full: Full) -> ProcessError {
    let message = match full {
        Full::Tree(limit) => format!(
            "process tree bound reached: {limit} live descendants (the `max_descendants` \
             limit of the spawning process's image or of an ancestor's)"
        ),
        Full::Host(limit) => format!(
            "host capacity reached: {limit} live processes (`libos run --max-processes` / \
             LIBOS_MAX_PROCESSES)"
        ),
        Full::Depth(limit) => {
            format!("process tree depth reached: a tree is at most {limit} processes deep")
        }
    };
    tracing::warn!(image = ?image, parent = ?parent, "start refused: {message}");
    ProcessError::Capacity(message)
}

/// The capabilities `image` requests, parsed.
pub(crate) fn image_capabilities(image: &Image) -> Result<Vec<Capability>, ProcessError> {
    image
        .capabilities
        .iter()
        .map(|c| c.parse())
        .collect::<Result<Vec<Capability>, _>>()
        .map_err(|e| ProcessError::Invalid(format!("image capability: {e}")))
}

/// The per-process limits of `image`: its memory and wall clock; fuel is metered per slice.
pub(crate) fn limits_of(image: &Image) -> Limits {
    Limits {
        fuel: u64::MAX / 2,
        timeout: image.limits.wall_clock,
        max_memory: usize::try_from(image.limits.memory).unwrap_or(usize::MAX),
        ..Limits::default()
    }
}

/// Links the agent world: the shared primitives through the process's call context, the
/// process-level interfaces on the process itself, and the WASI baseline.
fn link(host: &ToolHost) -> wasmtime::Result<Linker<ProcessCtx>> {
    use libos::bindings::libos::runtime as shared;
    let mut linker = Linker::new(host.engine());
    use crate::journal::calls::{HasJournaled, Journaled};
    // Every primitive is served journaled (`journal/calls.rs`).
    shared::types::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    shared::fs::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    shared::clock::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    shared::log::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    shared::shell::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    use crate::bindings::libos::runtime as own;
    own::process::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    own::tools::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    own::memory::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    own::events::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    own::human::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    own::time::add_to_linker::<ProcessCtx, HasJournaled>(&mut linker, |p| Journaled(p))?;
    crate::journal::wasi::add_to_linker(&mut linker)?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_ambient_capability_parses() {
        assert_eq!(super::AMBIENT.len(), super::PROCESS_AMBIENT.len());
    }
}
