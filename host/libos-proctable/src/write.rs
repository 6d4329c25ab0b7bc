//! Mutations. Each function runs inside the caller's `BEGIN IMMEDIATE` transaction and checks
//! everything before its first write, so an error leaves nothing to undo (the transaction is
//! rolled back regardless).

use rusqlite::{Connection, params};

use crate::error::{KernelError, Result};
use crate::lifecycle;
use crate::read;
use crate::record::{NewProcess, ProcessRecord};
use crate::sql::{encode_state, now_ns, pid_key};
use crate::state::{LIVE_STATE_NAMES, State};
use crate::usage::Usage;

/// Inserts `new` already `Running`, with its transitions `created -> ready -> running`
/// recorded (as [`create`] then two [`transition`]s would, without reading the row back in
/// between), and returns its pid.
pub(crate) fn create_running(conn: &Connection, new: &NewProcess) -> Result<u64> {
    let pid = insert(conn, new, &State::Running, None, true)?;
    record_start(conn, pid)?;
    Ok(pid)
}

/// Records a start made ahead of the table (see `deferred.rs`): inserts `new` as pid `pid`
/// like [`create_running`]. The host had its parent running when it started the process; if
/// the parent has ended since (killed from another terminal), the process is recorded and at
/// once killed with it, so the host that runs it stops it at its next look at the table.
pub(crate) fn start_as(conn: &Connection, pid: u64, new: &NewProcess) -> Result<()> {
    let key = stored_pid(pid)?;
    match insert(conn, new, &State::Running, Some(key), true) {
        Ok(_) => record_start(conn, pid),
        Err(KernelError::ParentEnded { .. }) => {
            insert(conn, new, &State::Running, Some(key), false)?;
            record_start(conn, pid)?;
            set_state(conn, pid, &State::Running, &State::Killed)
        }
        Err(e) => Err(e),
    }
}

/// Records the transitions `created -> ready -> running` of a process just inserted running.
fn record_start(conn: &Connection, pid: u64) -> Result<()> {
    record_steps(
        conn,
        stored_pid(pid)?,
        &[State::Created, State::Ready, State::Running],
    )
}

/// Records the transitions between consecutive `states` of the process `key`, numbered from
/// 1: for a process whose row was just inserted, with no transition yet.
fn record_steps(conn: &Connection, key: i64, states: &[State]) -> Result<()> {
    let now = now_ns();
    let mut insert = conn.prepare_cached(
        "INSERT INTO process_transitions (pid, seq, from_state, to_state, time_ns)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut from = None;
    for (seq, state) in states.iter().enumerate() {
        let to = encode_state(state)?;
        if let Some(from) = from {
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            insert.execute(params![key, seq, from, to, now])?;
        }
        from = Some(to);
    }
    Ok(())
}

/// Records a whole lifetime made ahead of the table (see `deferred.rs`): the process `pid`
/// started running as [`start_as`] records it, then moved through `path` as [`advance_only`]
/// would, then ended as [`end`] records it, with `event` and `usage`; returns the exit
/// event's id. One insert of the final row instead of an insert and an update per step.
///
/// Checks before its first write. Refuses ([`KernelError::Transition`]) a `path` the
/// lifecycle does not allow from `running` and ([`KernelError::ParentEnded`]) a parent that
/// has ended: the caller then records the changes one by one, as they would have been.
pub(crate) fn lifetime(
    conn: &Connection,
    pid: u64,
    new: &NewProcess,
    path: &[&State],
    (end, event, usage): (&State, (&str, &str), Option<&Usage>),
) -> Result<u64> {
    let key = stored_pid(pid)?;
    let mut states = Vec::with_capacity(path.len() + 4);
    states.extend([State::Created, State::Ready, State::Running]);
    for to in path.iter().copied().chain([end]) {
        let from = states.last().unwrap_or(&State::Running);
        lifecycle::check(from, to).map_err(|source| KernelError::Transition { pid, source })?;
        states.push(to.clone());
    }
    insert(conn, new, end, Some(key), true)?;
    record_steps(conn, key, &states)?;
    let id = crate::events::emit(conn, event.0, event.1, 0)?;
    if let Some(usage) = usage {
        crate::usage::set(conn, pid, usage)?;
    }
    Ok(id)
}

/// Inserts `new` in state `Created` and returns its pid.
///
/// # Errors
///
/// [`KernelError::NoSuchProcess`] if the parent does not exist, [`KernelError::ParentEnded`]
/// if it has ended, [`KernelError::Store`] if the database fails.
pub(crate) fn create(conn: &Connection, new: &NewProcess) -> Result<u64> {
    insert(conn, new, &State::Created, None, true)
}

/// Inserts the row of `new` in `state` as pid `pid` (a fresh one if `None`) and returns its
/// pid; records no transition. With `check_parent`, refuses a parent that has ended, as
/// [`create`] documents; the parent must exist either way.
fn insert(
    conn: &Connection,
    new: &NewProcess,
    state: &State,
    pid: Option<i64>,
    check_parent: bool,
) -> Result<u64> {
    let root = match new.parent {
        None => None,
        Some(parent) => {
            let (root, state) = read::as_parent(conn, parent)?;
            if check_parent && !LIVE_STATE_NAMES.contains(&state.as_str()) {
                return Err(KernelError::ParentEnded { parent, state });
            }
            Some(root)
        }
    };
    // A root is its own root; with its pid known, it is written at once.
    let root = root.or(pid);
    let parent = new.parent.map(stored_pid).transpose()?;
    let capabilities = serde_json::to_string(&new.capabilities)
        .map_err(|err| KernelError::Store(format!("cannot encode capabilities: {err}")))?;
    let now = now_ns();
    conn.prepare_cached(
        "INSERT INTO processes (pid, parent, root, image, image_digest, state, state_name, cwd,
                                capabilities, host, created_ns, updated_ns)
         VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )?
    .execute(params![
        parent,
        root,
        new.image,
        new.image_digest,
        encode_state(state)?,
        state.name(),
        new.cwd,
        capabilities,
        new.host,
        now,
        pid,
    ])?;
    let pid = conn.last_insert_rowid();
    set_policy_chain(conn, pid, &new.policy_chain)?;
    if let Some(resume) = &new.resume {
        crate::resume::store(conn, u64::try_from(pid).unwrap_or(0), resume)?;
    }
    if root.is_none() {
        // A fresh pid: only known now.
        conn.prepare_cached("UPDATE processes SET root = ?1 WHERE pid = ?1")?
            .execute(params![pid])?;
    }
    u64::try_from(pid).map_err(|_| KernelError::Store(format!("negative new pid {pid}")))
}

/// Moves `pid` to `to` if [`lifecycle::check`] allows it from its current state, records the
/// change and returns the updated record.
///
/// # Errors
///
/// [`KernelError::NoSuchProcess`], [`KernelError::Transition`], or [`KernelError::Store`].
pub(crate) fn transition(conn: &Connection, pid: u64, to: &State) -> Result<ProcessRecord> {
    let current = read::state(conn, pid)?;
    lifecycle::check(&current, to).map_err(|source| KernelError::Transition { pid, source })?;
    set_state(conn, pid, &current, to)?;
    read::process(conn, pid)
}

/// Moves `pid` one step to `to` as the process itself sees it: like [`transition`], except
/// that a paused process stays paused and the step applies to the state it will resume to
/// (`paused(running)` becomes `paused(blocked(..))`), and an ended `to` ends it (a process
/// that finishes the instruction it was in when paused may still exit).
pub(crate) fn advance(conn: &Connection, pid: u64, to: &State) -> Result<ProcessRecord> {
    advance_only(conn, pid, to)?;
    read::process(conn, pid)
}

/// [`advance`] without reading the record back.
pub(crate) fn advance_only(conn: &Connection, pid: u64, to: &State) -> Result<()> {
    let current = read::state(conn, pid)?;
    let next = match &current {
        State::Paused { was } => {
            lifecycle::check(was, to).map_err(|source| KernelError::Transition { pid, source })?;
            if to.is_ended() {
                to.clone()
            } else {
                State::paused_from(to.clone())
            }
        }
        other => {
            lifecycle::check(other, to)
                .map_err(|source| KernelError::Transition { pid, source })?;
            to.clone()
        }
    };
    set_state(conn, pid, &current, &next)
}

/// Ends `pid` as [`advance`] to `end` does, emits `event` (topic, payload; source 0) and
/// records `usage` if given; returns the event's id. Checks before its first write.
pub(crate) fn end(
    conn: &Connection,
    pid: u64,
    end: &State,
    event: (&str, &str),
    usage: Option<&Usage>,
) -> Result<u64> {
    advance_only(conn, pid, end)?;
    let id = crate::events::emit(conn, event.0, event.1, 0)?;
    if let Some(usage) = usage {
        crate::usage::set(conn, pid, usage)?;
    }
    Ok(id)
}

/// Pauses every live, unpaused process of the subtree rooted at `pid` and returns their pids
/// in tree order.
pub(crate) fn pause_subtree(conn: &Connection, pid: u64) -> Result<Vec<u64>> {
    let mut paused = Vec::new();
    for process in read::subtree(conn, pid)? {
        if process.state.is_live() && !matches!(process.state, State::Paused { .. }) {
            let to = State::paused_from(process.state.clone());
            set_state(conn, process.pid, &process.state, &to)?;
            paused.push(process.pid);
        }
    }
    Ok(paused)
}

/// Returns every paused process of the subtree rooted at `pid` to the state it was paused in
/// and returns their pids in tree order.
pub(crate) fn resume_subtree(conn: &Connection, pid: u64) -> Result<Vec<u64>> {
    let mut resumed = Vec::new();
    for process in read::subtree(conn, pid)? {
        if let State::Paused { was } = &process.state {
            let to = (**was).clone();
            set_state(conn, process.pid, &process.state, &to)?;
            resumed.push(process.pid);
        }
    }
    Ok(resumed)
}

/// Replaces the image and capabilities of the live process `pid` (`exec`).
pub(crate) fn set_image(
    conn: &Connection,
    pid: u64,
    image: &str,
    image_digest: &str,
    capabilities: &[String],
    policy_chain: &[String],
) -> Result<ProcessRecord> {
    let current = read::process(conn, pid)?;
    if current.state.is_ended() {
        return Err(KernelError::Ended {
            pid,
            state: current.state.name().to_owned(),
        });
    }
    let capabilities = serde_json::to_string(capabilities)
        .map_err(|err| KernelError::Store(format!("cannot encode capabilities: {err}")))?;
    conn.prepare_cached(
        "UPDATE processes SET image = ?2, image_digest = ?3, capabilities = ?4, updated_ns = ?5
         WHERE pid = ?1",
    )?
    .execute(params![
        stored_pid(pid)?,
        image,
        image_digest,
        capabilities,
        now_ns()
    ])?;
    set_policy_chain(conn, stored_pid(pid)?, policy_chain)?;
    read::process(conn, pid)
}

/// Stores the policy chain of `pid` (nothing for an empty one).
fn set_policy_chain(conn: &Connection, pid: i64, chain: &[String]) -> Result<()> {
    if chain.is_empty() {
        return Ok(());
    }
    let chain = serde_json::to_string(chain)
        .map_err(|err| KernelError::Store(format!("cannot encode a policy chain: {err}")))?;
    conn.prepare_cached(
        "INSERT INTO process_policy_chains (pid, chain) VALUES (?1, ?2)
         ON CONFLICT (pid) DO UPDATE SET chain = excluded.chain",
    )?
    .execute(params![pid, chain])?;
    Ok(())
}

/// Moves every live process of the subtree rooted at `pid` (itself included) to `Killed` and
/// returns their pids in tree order.
pub(crate) fn kill_subtree(conn: &Connection, pid: u64) -> Result<Vec<u64>> {
    let mut killed = Vec::new();
    for process in read::subtree(conn, pid)? {
        if process.state.is_live() {
            set_state(conn, process.pid, &process.state, &State::Killed)?;
            killed.push(process.pid);
        }
    }
    Ok(killed)
}

/// Moves every live process of `host` to `Failed { reason }` from whatever live state it is
/// in (the lifecycle's rules are for a running host; this is the record of one that died)
/// and returns their pids.
/// Moves every live process of `dead` to `host`; returns them, by ascending pid.
pub(crate) fn adopt(conn: &Connection, dead: &str, host: &str) -> Result<Vec<ProcessRecord>> {
    let orphans = read::owned_by(conn, dead)?;
    let mut stmt = conn.prepare_cached("UPDATE processes SET host = ?2 WHERE pid = ?1")?;
    for process in &orphans {
        stmt.execute(params![stored_pid(process.pid)?, host])?;
    }
    Ok(orphans
        .into_iter()
        .map(|p| ProcessRecord {
            host: host.to_owned(),
            ..p
        })
        .collect())
}

pub(crate) fn fail_host(conn: &Connection, host: &str, reason: &str) -> Result<Vec<u64>> {
    let mut failed = Vec::new();
    let to = State::Failed {
        reason: reason.to_owned(),
    };
    for process in read::owned_by(conn, host)? {
        set_state(conn, process.pid, &process.state, &to)?;
        failed.push(process.pid);
    }
    Ok(failed)
}

/// Writes `to` as the state of `pid`, which is in state `from`, and appends the transition
/// row. The caller has checked the change.
fn set_state(conn: &Connection, pid: u64, from: &State, to: &State) -> Result<()> {
    let key = stored_pid(pid)?;
    let now = now_ns();
    let from_json = encode_state(from)?;
    let to_json = encode_state(to)?;
    conn.prepare_cached(
        "UPDATE processes SET state = ?2, state_name = ?3, updated_ns = ?4 WHERE pid = ?1",
    )?
    .execute(params![key, to_json, to.name(), now])?;
    conn.prepare_cached(
        "INSERT INTO process_transitions (pid, seq, from_state, to_state, time_ns)
         SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4
         FROM process_transitions WHERE pid = ?1",
    )?
    .execute(params![key, from_json, to_json, now])?;
    if to.is_ended() {
        // Nobody will receive them: an ended process's queue goes with it.
        crate::mailbox::drop_queue(conn, key)?;
    }
    Ok(())
}

pub(crate) fn stored_pid(pid: u64) -> Result<i64> {
    pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))
}
