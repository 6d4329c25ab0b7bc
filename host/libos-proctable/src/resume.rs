//! What a host needs to resume a process another host ran: the table `process_resume`
//! (see [`crate::schema`]), one row per process, written with its start (in the same transaction) and
//! at each `exec`.
//!
//! A process is resumed by running the agent of its current image with [`Resume::input`]
//! again and answering its primitive calls from its journal, from entry [`Resume::replay_from`]
//! on (the first entry of the current image's run; earlier ones belong to images it `exec`ed
//! away from).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{KernelError, Result};
use crate::write::stored_pid;

/// How to start a process's current image again (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The input its current image's agent was started with.
    pub input: String,
    /// The working directory of its process tree on the host (absolute).
    pub workdir: String,
    /// The newest event id when it started: it receives only events after it.
    pub events_from: u64,
    /// The journal entry its current image's run starts at (1 unless it `exec`ed).
    pub replay_from: u64,
    /// The entry of its parent's journal whose `spawn` started it: a parent resumed after a
    /// crash that lost that entry finds the child by it instead of starting another.
    pub spawned_at: Option<u64>,
    /// The budget it started with (an encoding its runtime chose), kept whatever image it
    /// `exec`s into or is upgraded to; `None` when it has none (or to keep the one stored).
    pub budget: Option<String>,
}

/// Stores `resume` for `pid` (replacing what was there).
pub(crate) fn store(conn: &Connection, pid: u64, resume: &Resume) -> Result<()> {
    let events_from = i64::try_from(resume.events_from)
        .map_err(|_| KernelError::Store("event id out of range".into()))?;
    let replay_from = i64::try_from(resume.replay_from)
        .map_err(|_| KernelError::Store("journal entry out of range".into()))?;
    let spawned_at = resume
        .spawned_at
        .map(i64::try_from)
        .transpose()
        .map_err(|_| KernelError::Store("journal entry out of range".into()))?;
    conn.prepare_cached(
        "INSERT INTO process_resume (pid, input, workdir, events_from, replay_from, spawned_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pid) DO UPDATE SET input = excluded.input, workdir = excluded.workdir,
             events_from = excluded.events_from, replay_from = excluded.replay_from,
             spawned_at = excluded.spawned_at",
    )?
    .execute(params![
        stored_pid(pid)?,
        resume.input,
        resume.workdir,
        events_from,
        replay_from,
        spawned_at
    ])?;
    if let Some(budget) = &resume.budget {
        conn.prepare_cached(
            "INSERT INTO process_budgets (pid, budget) VALUES (?1, ?2)
             ON CONFLICT (pid) DO UPDATE SET budget = excluded.budget",
        )?
        .execute(params![stored_pid(pid)?, budget])?;
    }
    Ok(())
}

/// The resume record of `pid`, if one was stored.
pub(crate) fn load(conn: &Connection, pid: u64) -> Result<Option<Resume>> {
    type Row = (String, String, i64, i64, Option<i64>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT r.input, r.workdir, r.events_from, r.replay_from, r.spawned_at, b.budget
             FROM process_resume r LEFT JOIN process_budgets b ON b.pid = r.pid
             WHERE r.pid = ?1",
        )?
        .query_row(params![stored_pid(pid)?], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    Ok(row.map(
        |(input, workdir, events_from, replay_from, spawned_at, budget)| Resume {
            input,
            workdir,
            events_from: u64::try_from(events_from).unwrap_or(0),
            replay_from: u64::try_from(replay_from).unwrap_or(1).max(1),
            spawned_at: spawned_at.and_then(|s| u64::try_from(s).ok()),
            budget,
        },
    ))
}

/// Asks that `pid` go back to `checkpoint` (replacing an earlier request).
pub(crate) fn request_restore(conn: &Connection, pid: u64, checkpoint: u64) -> Result<()> {
    let checkpoint = i64::try_from(checkpoint)
        .map_err(|_| KernelError::Store("checkpoint id out of range".into()))?;
    conn.prepare_cached(
        "INSERT INTO process_restores (pid, checkpoint, requested_ns) VALUES (?1, ?2, ?3)
         ON CONFLICT (pid) DO UPDATE SET checkpoint = excluded.checkpoint,
             requested_ns = excluded.requested_ns",
    )?
    .execute(params![stored_pid(pid)?, checkpoint, crate::sql::now_ns()])?;
    Ok(())
}

/// Every pending restore: (pid, checkpoint).
pub(crate) fn pending_restores(conn: &Connection) -> Result<Vec<(u64, u64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT pid, checkpoint FROM process_restores ORDER BY pid")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (pid, checkpoint) = row?;
        if let (Ok(pid), Ok(checkpoint)) = (u64::try_from(pid), u64::try_from(checkpoint)) {
            out.push((pid, checkpoint));
        }
    }
    Ok(out)
}

/// Drops the restore request of `pid`.
pub(crate) fn restore_done(conn: &Connection, pid: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM process_restores WHERE pid = ?1")?
        .execute(params![stored_pid(pid)?])?;
    Ok(())
}

/// Asks that `pid` go on with the image `digest` (replacing an earlier request).
pub(crate) fn request_upgrade(conn: &Connection, pid: u64, digest: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO process_upgrades (pid, image_digest, requested_ns) VALUES (?1, ?2, ?3)
         ON CONFLICT (pid) DO UPDATE SET image_digest = excluded.image_digest,
             requested_ns = excluded.requested_ns",
    )?
    .execute(params![stored_pid(pid)?, digest, crate::sql::now_ns()])?;
    Ok(())
}

/// Every pending upgrade: (pid, image digest).
pub(crate) fn pending_upgrades(conn: &Connection) -> Result<Vec<(u64, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT pid, image_digest FROM process_upgrades ORDER BY pid")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (pid, digest) = row?;
        if let Ok(pid) = u64::try_from(pid) {
            out.push((pid, digest));
        }
    }
    Ok(out)
}

/// Drops the upgrade request of `pid`.
pub(crate) fn upgrade_done(conn: &Connection, pid: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM process_upgrades WHERE pid = ?1")?
        .execute(params![stored_pid(pid)?])?;
    Ok(())
}

/// The child of `parent` whose spawn was entry `seq` of the parent's journal, if any.
pub(crate) fn child_spawned_at(conn: &Connection, parent: u64, seq: u64) -> Result<Option<u64>> {
    let seq = i64::try_from(seq).map_err(|_| KernelError::Store("entry out of range".into()))?;
    let child: Option<i64> = conn
        .prepare_cached(
            "SELECT p.pid FROM processes p JOIN process_resume r ON r.pid = p.pid
             WHERE p.parent = ?1 AND r.spawned_at = ?2",
        )?
        .query_row(params![stored_pid(parent)?, seq], |r| r.get(0))
        .optional()?;
    Ok(child.and_then(|c| u64::try_from(c).ok()))
}

/// Unkeys the children `parent` spawned after its journal entry `upto`.
pub(crate) fn forget_spawns_after(conn: &Connection, parent: u64, upto: u64) -> Result<()> {
    let upto = i64::try_from(upto).map_err(|_| KernelError::Store("entry out of range".into()))?;
    conn.prepare_cached(
        "UPDATE process_resume SET spawned_at = NULL
         WHERE spawned_at > ?2 AND pid IN (SELECT pid FROM processes WHERE parent = ?1)",
    )?
    .execute(params![stored_pid(parent)?, upto])?;
    Ok(())
}

/// Unkeys `pid` (see [`crate::ProcessTable::unkey`]).
pub(crate) fn unkey(conn: &Connection, pid: u64) -> Result<()> {
    conn.prepare_cached("UPDATE process_resume SET spawned_at = NULL WHERE pid = ?1")?
        .execute(params![stored_pid(pid)?])?;
    Ok(())
}
