//! `libos pause | resume | logs`: acting on running processes from any terminal.
//!
//! Like `libos kill`, these write to (or read) the process table in the state directory; the
//! host running the processes applies a pause or resume within [`libos_process::TABLE_POLL`].

use std::path::Path;
use std::time::Duration;

use clap::Args;
use libos_proctable::LogRecord;

use super::exit::{Code, Failure};
use super::process::open_table;
use super::text::clean;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The process id.
    pub pid: u64,
    /// Keep printing new lines until the process ends.
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines after this position (see `--json`'s `seq`).
    #[arg(long, default_value_t = 0, value_name = "SEQ")]
    pub after: u64,
    /// Print one JSON object per line (`pid`, `seq`, `level`, `message`, `time_ns`).
    #[arg(long)]
    pub json: bool,
}

/// Pauses `pid` and its live subtree.
pub fn pause(pid: u64, state_dir: Option<&Path>) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    live(&table, pid)?;
    super::operator::record(
        state_dir,
        "process.pause",
        &format!("process/{pid}"),
        "operator: libos pause",
    )?;
    let paused = table
        .pause_subtree(pid)
        .map_err(|e| table_failure(pid, e))?;
    report(
        "paused",
        &paused,
        &format!("process {pid} has ended or is paused already"),
    );
    Ok(())
}

/// Resumes the paused processes of the subtree of `pid`.
pub fn resume(pid: u64, state_dir: Option<&Path>) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    live(&table, pid)?;
    super::operator::record(
        state_dir,
        "process.resume",
        &format!("process/{pid}"),
        "operator: libos resume",
    )?;
    let resumed = table
        .resume_subtree(pid)
        .map_err(|e| table_failure(pid, e))?;
    report(
        "resumed",
        &resumed,
        &format!("no process of the subtree of {pid} is paused"),
    );
    Ok(())
}

/// Refuses an unknown pid before anything is recorded.
fn live(table: &libos_proctable::ProcessTable, pid: u64) -> Result<(), Failure> {
    table
        .get(pid)
        .map(|_| ())
        .map_err(|_| Failure::new(Code::NotFound, format!("no process {pid}")))
}

/// Prints `VERB PID...`, or why nothing changed.
fn report(verb: &str, pids: &[u64], why_none: &str) {
    if pids.is_empty() {
        println!("nothing {verb}: {why_none}");
    } else {
        let list: Vec<String> = pids.iter().map(u64::to_string).collect();
        println!("{verb} {}", list.join(" "));
    }
}

/// Prints the stored log of `pid` (what it wrote through `log`, and a WASI agent's stdout and
/// stderr), following it while the process lives if asked.
pub fn logs(args: LogsArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    let mut after = args.after;
    let mut rounds = 0u64;
    loop {
        // Read the state first: lines stored before the end are then all seen below.
        let ended = table
            .get(args.pid)
            .map_err(|e| table_failure(args.pid, e))?
            .state
            .is_ended();
        let lines = table
            .logs(args.pid, after)
            .map_err(|e| table_failure(args.pid, e))?;
        for line in &lines {
            print_line(line, args.json);
        }
        if let Some(last) = lines.last() {
            after = last.seq;
        }
        if !args.follow || ended {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
        rounds += 1;
        if rounds.is_multiple_of(10) {
            // The host may die while we follow.
            super::process::note_orphans(&table, state_dir);
        }
    }
}

fn print_line(line: &LogRecord, json: bool) {
    if json {
        println!("{}", serde_json::to_string(line).unwrap_or_default());
    } else {
        println!("{:<6} {}", clean(&line.level), clean(&line.message));
    }
}

fn table_failure(pid: u64, e: libos_proctable::KernelError) -> Failure {
    match e {
        libos_proctable::KernelError::NoSuchProcess(_) => {
            Failure::new(Code::NotFound, format!("no process {pid}"))
        }
        other => Failure::new(Code::Error, other.to_string()),
    }
}
