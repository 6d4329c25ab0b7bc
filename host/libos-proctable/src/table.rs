//! The process table: the durable record of every process, its tree and its state changes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension};

use crate::deferred::{EndDone, Op, Shared};
use crate::error::{KernelError, Result};
use crate::events::{self, Event};
use crate::logs::{self, LogRecord};
use crate::mailbox::{self, Message, MessageBody};
use crate::pids::{self, Block};
use crate::read;
use crate::record::{
    NewProcess, ProcessFilter, ProcessQuery, ProcessRecord, Stopped, TransitionRecord,
};
use crate::schema;
use crate::state::State;
use crate::usage::{self, Usage};
use crate::write;

/// A handle on the process table in the shared database file.
///
/// Several handles (in one or several OS processes) may use the same file: every mutation
/// runs in one `BEGIN IMMEDIATE` transaction that reads the state it checks, so concurrent
/// changes are serialized and never both succeed from the same state. The handle is
/// `Send + Sync`; calls through one handle are serialized.
///
/// A process's start, its own state changes and its end can be recorded behind the caller
/// ([`ProcessTable::start_behind`], [`ProcessTable::advance_behind`],
/// [`ProcessTable::end_behind`]): a writer thread commits them, in order with everything
/// else done through this handle, which also sees them at once; other handles see them once
/// committed. Dropping the handle commits what is still queued.
///
/// Every method can fail with [`crate::KernelError::Store`] if the database fails (including a
/// lock held by another connection for longer than the 5 s busy timeout).
pub struct ProcessTable {
    /// Declared first: dropped after `Drop::drop` has stopped the writer.
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    pids: Mutex<Block>,
}

impl std::fmt::Debug for ProcessTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTable").finish_non_exhaustive()
    }
}

impl Drop for ProcessTable {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(writer) = self.writer.take()
            && writer.thread().id() != std::thread::current().id()
        {
            let _ = writer.join();
        }
        if let Err(e) = self.shared.flush() {
            tracing::error!(error = %e, "process table changes lost at close");
        }
        let block = std::mem::take(&mut *self.pids.lock().unwrap_or_else(PoisonError::into_inner));
        if let Err(e) = self.shared.aside(|conn| pids::give_back(conn, &block)) {
            tracing::debug!(error = %e, "unused pids not given back");
        }
    }
}

impl ProcessTable {
    /// Opens the database at `db_path` (conventionally `<state_dir>/libos.db`), creating the
    /// file and the process tables if needed. Other tables in the file are left alone.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] if the file cannot be opened, refuses WAL mode or the
    /// tables cannot be created.
    pub fn open(db_path: impl AsRef<Path>) -> Result<Self> {
        let conn = schema::open(db_path.as_ref())?;
        let reader = schema::open(db_path.as_ref())?;
        let shared = Arc::new(Shared::new(conn, reader));
        let behind = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("libos-process-table".into())
            .spawn(move || behind.write_behind())
            .map_err(|e| KernelError::Store(format!("cannot start the table's writer: {e}")))?;
        Ok(ProcessTable {
            shared,
            writer: Some(writer),
            pids: Mutex::default(),
        })
    }

    /// Registers a new process already running, as [`ProcessTable::create_running`] does,
    /// but behind the caller: returns its pid at once and queues the insert for the writer
    /// thread (see the type's docs).
    ///
    /// For a host that runs the parent (if any): the checks `create_running` makes cannot
    /// fail it then, except for a kill of the parent made elsewhere meanwhile, in which case
    /// the process is recorded killed with it, which its host then applies.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] if a new block of pids cannot be reserved.
    pub fn start_behind(&self, new: NewProcess) -> Result<u64> {
        let pid = {
            let mut block = self.pids.lock().unwrap_or_else(PoisonError::into_inner);
            match block.take() {
                Some(pid) => pid,
                None => {
                    *block = self.shared.aside(pids::reserve)?;
                    block
                        .take()
                        .ok_or_else(|| KernelError::Store("empty pid block".into()))?
                }
            }
        };
        self.shared.post(Op::Start { pid, new });
        Ok(pid)
    }

    /// Ends `pid` as [`ProcessTable::advance`] to `end` does and, in the same transaction,
    /// emits `event` (topic, payload; source 0) and records `usage` (what the process spent,
    /// if given): a process's end, its announcement and its final usage are recorded together
    /// or not at all. Behind the caller: the writer thread calls `done` once the change is
    /// committed (with the exit event's id) or has failed (e.g. because `pid` was killed
    /// meanwhile). `done` runs on whichever thread commits, with no lock of the table held.
    pub fn end_behind(
        &self,
        pid: u64,
        end: State,
        event: (String, String),
        usage: Option<Usage>,
        done: EndDone,
    ) {
        self.end_with_output_behind(pid, end, event, (usage, Vec::new()), done);
    }

    /// [`ProcessTable::end_behind`], storing `output` (lines: level, message) in its log in
    /// the same transaction: what a process printed is stored with its end, or neither is
    /// (a host that stops in between stores neither, and the run that resumes it prints the
    /// lines again, once).
    pub fn end_with_output_behind(
        &self,
        pid: u64,
        end: State,
        event: (String, String),
        (usage, output): (Option<Usage>, Vec<(String, String)>),
        done: EndDone,
    ) {
        self.shared.post(Op::End {
            pid,
            end,
            topic: event.0,
            payload: event.1,
            usage,
            output,
            done: Some(done),
        });
    }

    /// Applies the state changes `path` to `pid` as [`ProcessTable::advance`] does, but
    /// behind the caller: for the changes a process makes itself (blocking, waking), whose
    /// refusal (it was killed meanwhile) leaves nothing to do but log it.
    pub fn advance_behind(&self, pid: u64, path: Vec<State>) {
        self.shared.post(Op::Advance { pid, path });
    }

    /// Commits every change queued behind the caller so far.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] if the commit fails; the changes stay queued.
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    /// [`ProcessTable::flush`] as a function another thread may call while the table lives
    /// (a journal commits what the table queued before it commits its own batch).
    pub fn flusher(&self) -> impl Fn() -> Result<()> + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.flush()
    }

    /// Registers a new process in state [`State::Created`] with a fresh pid (pids are never
    /// reused). Its `root` is its parent's root, or its own pid without a parent.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if `new.parent` does not exist;
    /// [`crate::KernelError::ParentEnded`] if the parent has exited, failed or been killed.
    pub fn create(&self, new: NewProcess) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            let pid = write::create(conn, &new)?;
            read::process(conn, pid)
        })
    }

    /// [`ProcessTable::create`] and the process's first steps, `created -> ready -> running`,
    /// each recorded, in one transaction: for a host that starts running the process at once.
    ///
    /// # Errors
    ///
    /// As [`ProcessTable::create`].
    pub fn create_running(&self, new: NewProcess) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            let pid = write::create_running(conn, &new)?;
            read::process(conn, pid)
        })
    }

    /// Moves process `pid` to `to`, as allowed by [`crate::lifecycle::check`] from the state it
    /// is in when the transaction starts, records the change and returns the updated record.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process;
    /// [`crate::KernelError::Transition`] (naming both states) if the change is not allowed,
    /// e.g. because a concurrent change got there first.
    pub fn transition(&self, pid: u64, to: State) -> Result<ProcessRecord> {
        self.transaction(|conn| write::transition(conn, pid, &to))
    }

    /// Applies the state changes `path` to process `pid` in order, each checked and recorded
    /// as by [`ProcessTable::transition`], all in one transaction: either every change is made
    /// or none. Returns the final record. (E.g. `[Ready, Running]` when a blocked process
    /// resumes: one commit instead of two.)
    ///
    /// # Errors
    ///
    /// As [`ProcessTable::transition`], for the first change that is not allowed (nothing of
    /// `path` is then recorded). An empty `path` returns the current record unchanged.
    pub fn transitions_to(&self, pid: u64, path: &[State]) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            let mut record = read::process(conn, pid)?;
            for to in path {
                record = write::transition(conn, pid, to)?;
            }
            Ok(record)
        })
    }

    /// Moves every live process of the subtree rooted at `pid` (itself included) to
    /// [`State::Killed`], recording each change, all in one transaction. Processes that have
    /// already ended are left as they are. Returns the pids it changed, in tree order.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn kill_subtree(&self, pid: u64) -> Result<Vec<u64>> {
        self.transaction(|conn| write::kill_subtree(conn, pid))
    }

    /// The process `pid`.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is none.
    pub fn get(&self, pid: u64) -> Result<ProcessRecord> {
        read::process(&*self.lock()?, pid)
    }

    /// The digests of the images whose policies decide for `pid`, its own first (see
    /// [`NewProcess::policy_chain`]); `None` if none was recorded (a process stored before
    /// chains were).
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] (and `NoSuchProcess` for a pid beyond range).
    pub fn policy_chain(&self, pid: u64) -> Result<Option<Vec<String>>> {
        read::policy_chain(&*self.lock()?, pid)
    }

    /// Every process, or only the live ones, by ascending pid.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn list(&self, filter: ProcessFilter) -> Result<Vec<ProcessRecord>> {
        read::list(&*self.lock()?, filter)
    }

    /// The processes `query` selects (see [`ProcessQuery`]), by ascending pid.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn query(&self, query: &ProcessQuery) -> Result<Vec<ProcessRecord>> {
        read::query(&*self.lock()?, query)
    }

    /// How many processes `query` selects, without reading them (with `host` and `states`
    /// given, a range of an index).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn count(&self, query: &ProcessQuery) -> Result<u64> {
        read::count(&*self.lock()?, query)
    }

    /// The direct children of `pid`, live or not, by ascending pid.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn children(&self, pid: u64) -> Result<Vec<ProcessRecord>> {
        read::children(&*self.lock()?, pid)
    }

    /// Every descendant of `pid` (not `pid` itself), live or not, in tree order: depth first,
    /// each process before its own descendants, siblings by ascending pid.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn descendants(&self, pid: u64) -> Result<Vec<ProcessRecord>> {
        let mut subtree = read::subtree(&*self.lock()?, pid)?;
        subtree.retain(|process| process.pid != pid);
        Ok(subtree)
    }

    /// The ancestors of `pid` (not `pid` itself): its parent first, its tree's root last;
    /// empty for a root.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn ancestors(&self, pid: u64) -> Result<Vec<ProcessRecord>> {
        read::ancestors(&*self.lock()?, pid)
    }

    /// The recorded state changes of `pid`, oldest first (creation is not a change).
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn transitions(&self, pid: u64) -> Result<Vec<TransitionRecord>> {
        read::transitions(&*self.lock()?, pid)
    }

    /// The live processes owned by `host`, by ascending pid: what a restarted host must
    /// resume or mark failed.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn owned_by(&self, host: &str) -> Result<Vec<ProcessRecord>> {
        read::owned_by(&*self.lock()?, host)
    }

    /// The pids of `host`'s processes that were killed or are paused: what a host polls to
    /// apply kills, pauses and resumes made from another terminal. Reads the indexed columns
    /// only.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn stopped_on(&self, host: &str) -> Result<Stopped> {
        read::stopped_on(&*self.lock()?, host, 0)
    }

    /// [`ProcessTable::stopped_on`], but only the processes killed at or after `since_ns`
    /// (by their row's last change; paused ones all): what a host polling often asks, at a
    /// cost that does not grow with every process it ever saw killed.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn stopped_since(&self, host: &str, since_ns: u64) -> Result<Stopped> {
        read::stopped_on(&*self.lock()?, host, since_ns)
    }

    /// The hosts that run at least one live process, by name.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn live_hosts(&self) -> Result<Vec<String>> {
        read::live_hosts(&*self.lock()?)
    }

    /// Moves every live process of the dead host `dead` to `host` in one transaction (which
    /// then runs them); returns them by ascending pid. Only one host can take a dead host's
    /// processes: the second finds none.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn adopt(&self, dead: &str, host: &str) -> Result<Vec<ProcessRecord>> {
        self.flush()?;
        self.transaction(|conn| write::adopt(conn, dead, host))
    }

    /// How to resume `pid` on another host (see [`crate::Resume`]); `None` if nothing was
    /// stored (a process started by an earlier version).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn resume_of(&self, pid: u64) -> Result<Option<crate::Resume>> {
        self.flush()?;
        crate::resume::load(&*self.lock()?, pid)
    }

    /// Replaces how to resume `pid` (after an `exec`: the new image's input, and the entry
    /// its run starts at).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn set_resume(&self, pid: u64, resume: &crate::Resume) -> Result<()> {
        self.transaction(|conn| crate::resume::store(conn, pid, resume))
    }

    /// Asks that live process `pid` go back to `checkpoint`: the host running it (or the one
    /// that adopts it) applies it and drops the request.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Ended`] if it has ended; otherwise only
    /// [`crate::KernelError::Store`].
    pub fn request_restore(&self, pid: u64, checkpoint: u64) -> Result<()> {
        self.request_of_live(pid, |conn| {
            crate::resume::request_restore(conn, pid, checkpoint)
        })
    }

    /// Runs `request` in a transaction in which `pid` is live, or fails with
    /// [`crate::KernelError::Ended`].
    fn request_of_live(
        &self,
        pid: u64,
        request: impl FnOnce(&Connection) -> Result<()>,
    ) -> Result<()> {
        self.transaction(|conn| {
            let current = read::process(conn, pid)?;
            if current.state.is_ended() {
                return Err(crate::KernelError::Ended {
                    pid,
                    state: current.state.name().to_owned(),
                });
            }
            request(conn)
        })
    }

    /// The restores asked for and not yet applied: (pid, checkpoint), by pid.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn pending_restores(&self) -> Result<Vec<(u64, u64)>> {
        crate::resume::pending_restores(&self.shared.committed())
    }

    /// The child of `parent` whose spawn was entry `seq` of the parent's journal (see
    /// [`crate::Resume::spawned_at`]), if there is one.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn child_spawned_at(&self, parent: u64, seq: u64) -> Result<Option<u64>> {
        self.flush()?;
        crate::resume::child_spawned_at(&*self.lock()?, parent, seq)
    }

    /// Unkeys `pid`: it is no longer the answer to its parent's spawn (a child that never
    /// ran, whose spawn its parent's journal lost).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn unkey(&self, pid: u64) -> Result<()> {
        self.transaction(|conn| crate::resume::unkey(conn, pid))
    }

    /// Asks that live process `pid` go on with the image `digest`: the host that runs it (or
    /// adopts it) stops it and resumes it with that image, replaying its journal (see
    /// `libos-process` `upgrade.rs`). Replaces an earlier request.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Ended`] if it has ended; `NoSuchProcess`; `Store`.
    pub fn request_upgrade(&self, pid: u64, digest: &str) -> Result<()> {
        self.request_of_live(pid, |conn| {
            crate::resume::request_upgrade(conn, pid, digest)
        })
    }

    /// The upgrades asked for and not yet applied: (pid, image digest), by pid.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn pending_upgrades(&self) -> Result<Vec<(u64, String)>> {
        crate::resume::pending_upgrades(&self.shared.committed())
    }

    /// Adds `charges` (an encoding its runtime chose, summed by `add`) to what the calls a
    /// restore took out of `pid`'s journal had been charged, so a host that resumes it later
    /// charges them again.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn add_discarded_charges(
        &self,
        pid: u64,
        add: impl FnOnce(Option<&str>) -> String,
    ) -> Result<()> {
        self.transaction(|conn| {
            let key = i64::try_from(pid)
                .map_err(|_| crate::KernelError::Store("pid out of range".into()))?;
            let before: Option<String> = conn
                .prepare_cached("SELECT charges FROM process_discarded WHERE pid = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            conn.prepare_cached(
                "INSERT INTO process_discarded (pid, charges) VALUES (?1, ?2)
                 ON CONFLICT (pid) DO UPDATE SET charges = excluded.charges",
            )?
            .execute(rusqlite::params![key, add(before.as_deref())])?;
            Ok(())
        })
    }

    /// What the calls restores took out of `pid`'s journal had been charged, as stored.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn discarded_charges(&self, pid: u64) -> Result<Option<String>> {
        let key =
            i64::try_from(pid).map_err(|_| crate::KernelError::Store("pid out of range".into()))?;
        Ok(self
            .lock()?
            .prepare_cached("SELECT charges FROM process_discarded WHERE pid = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Drops the upgrade request of `pid` (one that cannot be applied).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn drop_upgrade(&self, pid: u64) -> Result<()> {
        self.transaction(|conn| crate::resume::upgrade_done(conn, pid))
    }

    /// Records that `pid` goes on with `image` (`image_digest`), `capabilities` and
    /// `policy_chain`, and drops its upgrade request, in one transaction. Returns its record.
    ///
    /// # Errors
    ///
    /// As [`ProcessTable::set_image`].
    pub fn upgraded(
        &self,
        pid: u64,
        (image, image_digest): (&str, &str),
        capabilities: &[String],
        policy_chain: &[String],
    ) -> Result<ProcessRecord> {
        self.flush()?;
        self.transaction(|conn| {
            let record =
                write::set_image(conn, pid, image, image_digest, capabilities, policy_chain)?;
            crate::resume::upgrade_done(conn, pid)?;
            Ok(record)
        })
    }

    /// Drops the restore request of `pid` (one that cannot be applied).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn drop_restore(&self, pid: u64) -> Result<()> {
        self.transaction(|conn| crate::resume::restore_done(conn, pid))
    }

    /// Records that `pid` went back to a checkpoint that keeps its journal up to entry
    /// `kept_upto`: it runs `image` (`image_digest`) with `capabilities` under `policy_chain`
    /// and resumes as `resume` says; the children it spawned after that entry are no longer
    /// the answer to a spawn (the spawns after the checkpoint run again); its restore request
    /// is dropped. One transaction. Returns its record.
    ///
    /// # Errors
    ///
    /// As [`ProcessTable::set_image`].
    pub fn restored(
        &self,
        pid: u64,
        (image, image_digest): (&str, &str),
        capabilities: &[String],
        policy_chain: &[String],
        resume: &crate::Resume,
        kept_upto: u64,
    ) -> Result<ProcessRecord> {
        self.flush()?;
        self.transaction(|conn| {
            let record =
                write::set_image(conn, pid, image, image_digest, capabilities, policy_chain)?;
            crate::resume::store(conn, pid, resume)?;
            crate::resume::forget_spawns_after(conn, pid, kept_upto)?;
            crate::resume::restore_done(conn, pid)?;
            Ok(record)
        })
    }

    /// Marks every live process of `host` failed with `reason`, whatever live state it is in
    /// (paused included), recording each change, all in one transaction; returns their pids.
    /// For the processes of a host that has died (see [`crate::hosts::recover`]).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn fail_host(&self, host: &str, reason: &str) -> Result<Vec<u64>> {
        self.transaction(|conn| write::fail_host(conn, host, reason))
    }

    /// Applies the state changes `path` to `pid` as the process itself makes them (blocking,
    /// waking, ending), all in one transaction. Unlike [`ProcessTable::transitions_to`], a
    /// paused process stays paused: each change applies to the state it resumes to (a process
    /// paused while running that then blocks is `paused(blocked(..))`), and an ended state
    /// ends it. Returns the final record.
    ///
    /// # Errors
    ///
    /// As [`ProcessTable::transitions_to`].
    pub fn advance(&self, pid: u64, path: &[State]) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            let mut record = read::process(conn, pid)?;
            for to in path {
                record = write::advance(conn, pid, to)?;
            }
            Ok(record)
        })
    }

    /// Pauses every live process of the subtree rooted at `pid` that is not paused yet (each
    /// remembers the state it was in), in one transaction; returns their pids in tree order.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn pause_subtree(&self, pid: u64) -> Result<Vec<u64>> {
        self.transaction(|conn| write::pause_subtree(conn, pid))
    }

    /// Returns every paused process of the subtree rooted at `pid` to the state it was paused
    /// in, in one transaction; returns their pids in tree order. (A descendant paused on its
    /// own before is resumed too.)
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`] if there is no such process.
    pub fn resume_subtree(&self, pid: u64) -> Result<Vec<u64>> {
        self.transaction(|conn| write::resume_subtree(conn, pid))
    }

    /// Replaces the image (reference and digest) and the capabilities of the live process
    /// `pid`, as `exec` does. The caller has checked that the capabilities did not grow.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`], [`crate::KernelError::Ended`].
    pub fn set_image(
        &self,
        pid: u64,
        image: &str,
        image_digest: &str,
        capabilities: &[String],
        policy_chain: &[String],
    ) -> Result<ProcessRecord> {
        self.transaction(|conn| {
            write::set_image(conn, pid, image, image_digest, capabilities, policy_chain)
        })
    }

    /// Queues `body` for process `to` from process `from` (0: the host or an operator) and
    /// returns the message id. The message is stored before this returns.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::NoSuchProcess`]; [`crate::KernelError::Ended`] if `to` has ended;
    /// [`crate::KernelError::QueueFull`] if it already holds [`crate::mailbox::MAX_QUEUED`]
    /// messages.
    pub fn send(&self, to: u64, from: u64, body: &MessageBody) -> Result<u64> {
        self.transaction(|conn| mailbox::send(conn, to, from, body))
    }

    /// Records the tool `tool` registered for `pid` (see [`crate::tools`]); `Ok(false)`
    /// when `pid` already has one of that name or holds [`crate::tools::MAX_REGISTERED`].
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`] (and `NoSuchProcess` for a pid beyond range).
    pub fn register_tool(&self, pid: u64, tool: &crate::RegisteredTool) -> Result<bool> {
        self.transaction(|conn| crate::tools::register(conn, pid, tool))
    }

    /// The tools `pid` registered or inherited, by name.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`] (a corrupt row among them).
    pub fn registered_tools(&self, pid: u64) -> Result<Vec<crate::RegisteredTool>> {
        crate::tools::registered(&*self.lock()?, pid)
    }

    /// Whether `pid` has a registered tool called `name`.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn has_registered_tool(&self, pid: u64, name: &str) -> Result<bool> {
        crate::tools::has(&*self.lock()?, pid, name)
    }

    /// Takes the next message queued for `pid`, interrupts first, each kind oldest first; the
    /// message is removed in the same transaction, so each is received once.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`] (and `NoSuchProcess` for a pid beyond range).
    pub fn receive(&self, pid: u64) -> Result<Option<Message>> {
        self.transaction(|conn| mailbox::take(conn, pid))
    }

    /// The id of the newest message ever queued; it only grows (see
    /// [`crate::mailbox`]), so a change means a message arrived.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn last_message(&self) -> Result<u64> {
        mailbox::last_sent(&self.shared.committed())
    }

    /// Stores an event on `topic` from `source` (0: a host or an operator) and returns its id.
    /// The payload is stored as given; the caller checks it (JSON, at most
    /// [`crate::events::MAX_PAYLOAD`] bytes).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn emit(&self, topic: &str, payload: &str, source: u64) -> Result<u64> {
        self.transaction(|conn| events::emit(conn, topic, payload, source))
    }

    /// Emits `payloads` on `topic` from `source`, in order, in one transaction (as
    /// [`ProcessTable::emit`] each); returns the newest id, if any. For the exit notices of
    /// a whole killed tree: one commit, however large the tree.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`]; then none was stored.
    pub fn emit_all(&self, topic: &str, payloads: &[String], source: u64) -> Result<Option<u64>> {
        if payloads.is_empty() {
            return Ok(None);
        }
        self.transaction(|conn| {
            let mut newest = None;
            for payload in payloads {
                newest = Some(events::emit(conn, topic, payload, source)?);
            }
            Ok(newest)
        })
    }

    /// Up to `limit` kept events on `topic` (every topic when `None`) with an id above
    /// `after`, oldest first: those committed (an exit notice queued with its process's end
    /// is announced only once committed, so nobody waits for one that is still queued).
    /// Read on the second connection, so 100,000 waiters waking do not each commit the queue.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn events(&self, topic: Option<&str>, after: u64, limit: usize) -> Result<Vec<Event>> {
        events::after(&self.shared.committed(), topic, after, limit)
    }

    /// The id of the newest event ever emitted and committed (0 if none): an exit notice
    /// still queued behind the caller (see [`ProcessTable::end_behind`]) is not counted.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn last_event(&self) -> Result<u64> {
        events::last_id(&self.shared.committed())
    }

    /// Appends `lines` (level, message) to the stored log of `pid`, in one transaction.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] (and `NoSuchProcess` for a pid beyond range).
    pub fn append_logs(&self, pid: u64, lines: &[(&str, &str)]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.transaction(|conn| logs::append(conn, pid, lines))
    }

    /// The stored log lines of `pid` after position `after` (0: all), oldest first.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] (and `NoSuchProcess` for a pid beyond range).
    pub fn logs(&self, pid: u64, after: u64) -> Result<Vec<LogRecord>> {
        logs::read(&*self.lock()?, pid, after)
    }

    /// Records what `pid` (with its descendants) has spent against its budgets.
    ///
    /// # Errors
    ///
    /// [`crate::KernelError::Store`] (and `NoSuchProcess` for a pid beyond range).
    pub fn set_usage(&self, pid: u64, usage: &Usage) -> Result<()> {
        self.transaction(|conn| usage::set(conn, pid, usage))
    }

    /// [`ProcessTable::set_usage`] behind the caller, as the process's own state changes are:
    /// what a running process reports every few seconds costs it no commit.
    pub fn set_usage_behind(&self, pid: u64, usage: Usage) {
        self.shared.post(Op::Usage { pid, usage });
    }

    /// What each process that reported spending has spent, by pid.
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn usage(&self) -> Result<HashMap<u64, Usage>> {
        usage::all(&*self.lock()?)
    }

    /// What the children of `parent` that have ended spent, each with its descendants,
    /// summed (as last recorded for each).
    ///
    /// # Errors
    ///
    /// Only [`crate::KernelError::Store`].
    pub fn ended_children_usage(&self, parent: u64) -> Result<Usage> {
        self.flush()?;
        usage::of_ended_children(&*self.lock()?, parent)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction after the changes queued behind the
    /// caller, committing only if it succeeds (see `deferred.rs`).
    fn transaction<T>(&self, body: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.shared.transaction(body)
    }

    /// The connection, once every change queued behind the caller is committed.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.shared.read()
    }
}
