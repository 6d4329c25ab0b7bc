//! `libos checkpoint create|ls|restore|rm` and `libos fork`: a process's journal up to a point,
//! the process sent back there, and new processes that continue from it.
//!
//! A checkpoint is a position in a process's journal (`libos-journal` `checkpoint.rs`) with
//! what starting it again needs (its image digest, input, working directory, capabilities and
//! policy chain). `fork` makes a new process (a new root) that replays the checkpoint's entries
//! (so nothing before the checkpoint happens again: every call is answered from them) and goes
//! on live from there, served by a background host (`libos serve --until-idle`). It holds the
//! capabilities the process held at the checkpoint that the process still holds now (a
//! capability taken away since is not brought back); grants are never copied (a person's
//! approval is for the process it was given to, and one used is used). `restore` sends a live
//! process back (`libos_process` `checkpoint.rs`: applied by the host that runs it). Each
//! command is audited as `human:$USER` (`checkpoint.create` and `checkpoint.restore` on
//! `process/PID`, `process.fork` on `checkpoint/ID`) before it acts: three actions, so a policy
//! or a person can allow one without the others. No primitive lets a process take, restore or
//! fork a checkpoint of itself.

use std::path::Path;

use clap::Subcommand;
use libos::state::StateDir;
use libos_journal::{Checkpoint, Journal};
use libos_proctable::{HostLease, NewProcess, ProcessTable, Resume, State};

use super::exit::{Code, Failure};
use super::text::clean;

#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Take a checkpoint of a live process: its journal up to its last finished call.
    Create {
        /// The process.
        pid: u64,
        /// A name to refer to it by (unique).
        #[arg(long)]
        name: Option<String>,
    },
    /// Send a live process back to one of its checkpoints: the host running it stops it and
    /// resumes it from there (nothing before the checkpoint happens again; what it did after
    /// runs again as it goes on).
    Restore {
        /// The checkpoint's id or name.
        checkpoint: String,
    },
    /// Delete a checkpoint (processes forked from it keep what they copied). Checkpoints
    /// are kept until deleted.
    Rm {
        /// The checkpoint's id or name.
        checkpoint: String,
    },
    /// List checkpoints, oldest first.
    Ls {
        /// Only those of this process.
        #[arg(long)]
        pid: Option<u64>,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

use libos_process::CheckpointMeta as Meta;

fn error(e: impl std::fmt::Display) -> Failure {
    Failure::new(Code::Error, e.to_string())
}

fn open(state_dir: Option<&Path>) -> Result<(StateDir, ProcessTable, Journal), Failure> {
    let state = StateDir::open(state_dir)?;
    let table = ProcessTable::open(state.db_path()).map_err(error)?;
    let journal = Journal::open(&state.db_path()).map_err(error)?;
    Ok((state, table, journal))
}

/// The checkpoint with id or name `which`, or [`Code::NotFound`].
pub(super) fn named(journal: &Journal, which: &str) -> Result<Checkpoint, Failure> {
    journal
        .checkpoint_named(which)
        .map_err(error)?
        .ok_or_else(|| Failure::new(Code::NotFound, format!("no checkpoint {}", clean(which))))
}

/// Runs a `checkpoint` subcommand.
pub fn run(cmd: CheckpointCommand, state_dir: Option<&Path>) -> Result<(), Failure> {
    match cmd {
        CheckpointCommand::Create { pid, name } => create(pid, name.as_deref(), state_dir),
        CheckpointCommand::Ls { pid, json } => list(pid, json, state_dir),
        CheckpointCommand::Restore { checkpoint } => restore(&checkpoint, state_dir),
        CheckpointCommand::Rm { checkpoint } => remove(&checkpoint, state_dir),
    }
}

fn create(pid: u64, name: Option<&str>, state_dir: Option<&Path>) -> Result<(), Failure> {
    let (_, table, journal) = open(state_dir)?;
    let record = table
        .get(pid)
        .map_err(|_| Failure::new(Code::NotFound, format!("no process {pid}")))?;
    if record.state.is_ended() {
        return Err(Failure::new(
            Code::Error,
            format!("process {pid} has ended: its journal is gone"),
        ));
    }
    let resume = table.resume_of(pid).map_err(error)?.ok_or_else(|| {
        Failure::new(
            Code::Error,
            format!("process {pid} cannot be resumed, so not checkpointed"),
        )
    })?;
    if name.is_some_and(|n| n.is_empty() || n.len() > 128 || n.parse::<u64>().is_ok()) {
        return Err(Failure::new(
            Code::Error,
            "a checkpoint name is 1 to 128 characters and not a number",
        ));
    }
    super::operator::record(
        state_dir,
        "checkpoint.create",
        &format!("process/{pid}"),
        "operator: libos checkpoint create",
    )?;
    let meta = Meta {
        image: record.image,
        image_digest: record.image_digest,
        cwd: record.cwd,
        capabilities: record.capabilities,
        policy_chain: table.policy_chain(pid).map_err(error)?.unwrap_or_default(),
        input: resume.input,
        workdir: resume.workdir,
    };
    let meta = serde_json::to_string(&meta).map_err(error)?;
    // The process's own objects are kept with it, read in the same transaction; a memory
    // write under way is waited for (briefly).
    let namespace = format!("pid:{pid}");
    let started = std::time::Instant::now();
    let taken = loop {
        let snapshot = |conn: &_| {
            libos_memory::ObjectStore::snapshot_in(conn, &namespace)
                .map_err(|e| e.to_string())
                .and_then(|objects| libos_process::encode_memory(&objects))
        };
        match journal.checkpoint(pid, name, resume.replay_from, &meta, snapshot) {
            Err(libos_journal::JournalError::Busy(_))
                if started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other.map_err(error)?,
        }
    };
    println!(
        "checkpoint {} of process {pid}: {} journal entries (to entry {})",
        taken.id,
        (taken.upto + 1).saturating_sub(taken.from),
        taken.upto
    );
    Ok(())
}

fn list(pid: Option<u64>, json: bool, state_dir: Option<&Path>) -> Result<(), Failure> {
    let (_, _, journal) = open(state_dir)?;
    let all = journal.checkpoints(pid).map_err(error)?;
    if json {
        for c in &all {
            println!("{}", serde_json::to_string(&shown(c)).unwrap_or_default());
        }
        return Ok(());
    }
    if all.is_empty() {
        println!("no checkpoints");
    }
    for c in &all {
        let v = shown(c);
        println!(
            "{:>4}  pid {:<6} entries {:>6}  {}  {}",
            c.id,
            c.pid,
            (c.upto + 1).saturating_sub(c.from),
            clean(v["image"].as_str().unwrap_or_default()),
            c.name.as_deref().map(clean).unwrap_or_default()
        );
    }
    Ok(())
}

/// A checkpoint as shown: without the input it keeps (which may be large or private).
fn shown(c: &Checkpoint) -> serde_json::Value {
    let meta: Option<Meta> = serde_json::from_str(&c.meta).ok();
    serde_json::json!({
        "id": c.id,
        "pid": c.pid,
        "name": c.name,
        "entries": (c.upto + 1).saturating_sub(c.from),
        "upto": c.upto,
        "created_ns": c.created_ns,
        "image": meta.as_ref().map(|m| m.image.clone()),
    })
}

/// How long `restore` waits for a running host to apply it.
const RESTORE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `libos checkpoint restore CHECKPOINT`: asks the host of the checkpoint's process to send it
/// back there, and says when it has.
fn restore(which: &str, state_dir: Option<&Path>) -> Result<(), Failure> {
    let (state, table, journal) = open(state_dir)?;
    let checkpoint = named(&journal, which)?;
    let pid = checkpoint.pid;
    let record = table
        .get(pid)
        .map_err(|_| Failure::new(Code::NotFound, format!("no process {pid}")))?;
    if record.state.is_ended() {
        return Err(Failure::new(
            Code::Error,
            format!(
                "process {pid} has ended; `libos fork {}` starts a new one from there",
                checkpoint.id
            ),
        ));
    }
    super::operator::record(
        state_dir,
        "checkpoint.restore",
        &format!("process/{pid}"),
        &format!("operator: libos checkpoint restore {}", checkpoint.id),
    )?;
    table.request_restore(pid, checkpoint.id).map_err(error)?;
    let hosts = state.hosts_dir();
    let started = std::time::Instant::now();
    while started.elapsed() < RESTORE_WAIT {
        let pending = table.pending_restores().map_err(error)?;
        if !pending.iter().any(|(p, _)| *p == pid) {
            println!(
                "process {pid} went back to checkpoint {} (entry {})",
                checkpoint.id, checkpoint.upto
            );
            return Ok(());
        }
        let host = table.get(pid).map(|r| r.host).unwrap_or_default();
        if !libos_proctable::hosts::is_alive(&hosts, &host) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    println!(
        "process {pid} goes back to checkpoint {} when a host resumes it (`libos serve`)",
        checkpoint.id
    );
    Ok(())
}

/// `libos checkpoint rm CHECKPOINT`, audited as `checkpoint.delete` on `checkpoint/ID`.
fn remove(which: &str, state_dir: Option<&Path>) -> Result<(), Failure> {
    let (_, _, journal) = open(state_dir)?;
    let checkpoint = named(&journal, which)?;
    super::operator::record(
        state_dir,
        "checkpoint.delete",
        &format!("checkpoint/{}", checkpoint.id),
        "operator: libos checkpoint rm",
    )?;
    journal.drop_checkpoint(checkpoint.id).map_err(error)?;
    println!("checkpoint {} deleted", checkpoint.id);
    Ok(())
}

/// `libos fork CHECKPOINT`: see the module docs. Prints the new process's pid.
pub fn fork(which: &str, state_dir: Option<&Path>) -> Result<(), Failure> {
    let (state, table, journal) = open(state_dir)?;
    let checkpoint = named(&journal, which)?;
    let meta: Meta = serde_json::from_str(&checkpoint.meta)
        .map_err(|e| error(format!("checkpoint {}: {e}", checkpoint.id)))?;
    // What it held then and still holds now (a process that ended keeps its last).
    let now = table
        .get(checkpoint.pid)
        .map(|r| r.capabilities)
        .unwrap_or_default();
    let capabilities = meta.still_held(&now);
    let started_with = table
        .resume_of(checkpoint.pid)
        .ok()
        .flatten()
        .and_then(|r| r.budget);
    super::operator::record(
        state_dir,
        "process.fork",
        &format!("checkpoint/{}", checkpoint.id),
        "operator: libos fork",
    )?;
    // The new process is created under a lease of this invocation, which ends when it
    // returns: a host that adopts orphans resumes it, never before its journal is in place.
    let hosts = state.hosts_dir();
    let lease =
        HostLease::acquire_avoiding(&hosts, &table.live_hosts().map_err(error)?).map_err(error)?;
    let events_from = table.last_event().map_err(error)?;
    let created = table
        .create_running(NewProcess {
            parent: None,
            image: meta.image.clone(),
            image_digest: meta.image_digest.clone(),
            cwd: meta.cwd.clone(),
            capabilities,
            host: lease.id().to_owned(),
            policy_chain: meta.policy_chain.clone(),
            resume: Some(Resume {
                input: meta.input.clone(),
                workdir: meta.workdir.clone(),
                events_from,
                replay_from: checkpoint.from,
                spawned_at: None,
                // The budget its process started with (a new root has it anew).
                budget: started_with,
            }),
        })
        .map_err(error)?;
    if let Err(e) = journal.fork(&checkpoint, created.pid) {
        let _ = table.advance(
            created.pid,
            &[State::Failed {
                reason: format!("fork of checkpoint {}: {e}", checkpoint.id),
            }],
        );
        return Err(error(e));
    }
    // Its own objects start as the checkpoint kept them.
    let seeded = (|| -> Result<(), String> {
        let memory = journal
            .checkpoint_memory(checkpoint.id)
            .map_err(|e| e.to_string())?;
        let images = libos_image::ImageStore::open(state.root()).map_err(|e| e.to_string())?;
        let image = images
            .get(&format!("sha256:{}", meta.image_digest))
            .map_err(|e| e.to_string())?;
        let store = libos_memory::ObjectStore::open(state.db_path()).map_err(|e| e.to_string())?;
        libos_process::replace_memory(&store, created.pid, memory.as_deref(), &image)
            .map_err(|e| e.to_string())
    })();
    if let Err(e) = seeded {
        let _ = table.advance(
            created.pid,
            &[State::Failed {
                reason: format!("fork of checkpoint {}: {e}", checkpoint.id),
            }],
        );
        return Err(error(e));
    }
    drop(lease);
    super::serve::in_background(&state)?;
    println!("{}", created.pid);
    Ok(())
}
