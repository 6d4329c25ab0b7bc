//! `libos run | ps | wait | kill`: AgentProcesses from the shell.
//!
//! `run` is a host: it starts the image as the root of a new process tree and serves the
//! tree until the root ends. The other commands read and write the process table in the
//! state directory, so they work from any terminal while the host runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use libos::host::HostOptions;
use libos::state::StateDir;
use libos_process::{ExitStatus, Kernel, ProcessError, Start};
use libos_proctable::{ProcessFilter, ProcessRecord, ProcessTable, Usage};

use super::exit::{Code, Failure};
use super::text::clean;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image: NAME (newest version), NAME:VERSION or sha256:PREFIX.
    pub image: String,
    /// JSON input handed to the agent's `run`.
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Working directory of the root process (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Serve the process from a background host: print its pid and return at once.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the root's pid to this file once it runs (used by `--detach`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub pid_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show each process under its parent.
    #[arg(long)]
    pub tree: bool,
    /// Only processes that have not ended.
    #[arg(long)]
    pub live: bool,
    /// Print JSON (one array of process records).
    #[arg(long)]
    pub json: bool,
}

/// Runs `image` as the root of a new tree, prints its output and exits with its status
/// (or, with `--detach`, leaves that to a background host and prints the pid).
pub fn run(args: RunArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let workdir = match args.workdir.clone() {
        Some(dir) => dir,
        None => std::env::current_dir()
            .map_err(|e| Failure::new(Code::Error, format!("current directory: {e}")))?,
    };
    if !workdir.is_dir() {
        return Err(Failure::new(
            Code::Error,
            format!("working directory {} is not a directory", workdir.display()),
        ));
    }
    let workdir = workdir.canonicalize().map_err(|e| {
        Failure::new(
            Code::Error,
            format!("working directory {}: {e}", workdir.display()),
        )
    })?;
    libos_image::check_reference(&args.image)
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    serde_json::from_str::<serde_json::Value>(&args.input)
        .map_err(|e| Failure::new(Code::Error, format!("--input is not JSON: {e}")))?;
    if args.detach {
        return super::detach::run_detached(&args, &workdir, state_dir);
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let kernel = Kernel::new(HostOptions {
            state_dir: state_dir.map(Path::to_path_buf),
            ..HostOptions::default()
        })
        .map_err(process_failure)?;
        let pid = kernel
            .start(Start {
                image: args.image.clone(),
                input: args.input,
                capabilities: None,
                workdir,
                cwd: "/".into(),
                parent: None,
            })
            .await
            .map_err(process_failure)?;
        // The start is recorded behind the spawn: commit it before the pid is handed out, so
        // `libos ps|kill|wait <pid>` from another terminal finds it at once.
        kernel.flush().map_err(process_failure)?;
        eprintln!("process {pid} started ({})", args.image);
        if let Some(file) = &args.pid_file {
            super::detach::write_pid(file, pid)?;
        }
        let status = kernel.wait(pid).await.map_err(process_failure)?;
        // The tree ends with its root: whatever still runs below it is killed.
        kernel.end_tree(pid).map_err(process_failure)?;
        kernel.flush().map_err(process_failure)?;
        kernel
            .host()
            .flush_audit()
            .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
        report(pid, status)
    })
}

/// Lists processes.
pub fn ps(args: PsArgs, state_dir: Option<&Path>) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    let filter = if args.live {
        ProcessFilter::Live
    } else {
        ProcessFilter::All
    };
    let records = table
        .list(filter)
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let usage = table
        .usage()
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    if args.json {
        let shown: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["usage"] = serde_json::to_value(usage.get(&r.pid).copied().unwrap_or_default())
                    .unwrap_or_default();
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&shown).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:>6} {:>6}  {:<24} {:<24} {:>5} {:>7} {:>7}  CWD",
        "PID", "PPID", "STATE", "IMAGE", "TOOLS", "FUEL", "WRITTEN"
    );
    let rows = Rows {
        records: &records,
        usage: &usage,
    };
    if args.tree {
        for root in records.iter().filter(|r| {
            r.parent
                .is_none_or(|p| !records.iter().any(|other| other.pid == p))
        }) {
            rows.print_tree(root, 0);
        }
    } else {
        for r in &records {
            rows.print_row(r, 0);
        }
    }
    Ok(())
}

/// Waits (from any terminal) until `pid` has ended; prints its output and exits with its
/// status.
pub fn wait(pid: u64, state_dir: Option<&Path>) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    let mut round = 0u64;
    loop {
        round += 1;
        if round.is_multiple_of(20) {
            // The host may die while we wait.
            recover_dead_hosts(&table, state_dir);
        }
        let record = table
            .get(pid)
            .map_err(|_| Failure::new(Code::NotFound, format!("no process {pid}")))?;
        if let Some(status) = ExitStatus::of_state(&record.state) {
            return report(pid, status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills `pid` and its subtree. The host running them notices within tens of milliseconds
/// and stops them.
pub fn kill(pid: u64, state_dir: Option<&Path>) -> Result<(), Failure> {
    let table = open_table(state_dir)?;
    table
        .get(pid)
        .map_err(|_| Failure::new(Code::NotFound, format!("no process {pid}")))?;
    super::operator::record(
        state_dir,
        "process.kill",
        &format!("process/{pid}"),
        "operator: libos kill",
    )?;
    let killed = table
        .kill_subtree(pid)
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    if killed.is_empty() {
        println!("process {pid} had already ended");
    } else {
        let list: Vec<String> = killed.iter().map(u64::to_string).collect();
        println!("killed {}", list.join(" "));
    }
    Ok(())
}

fn report(pid: u64, status: ExitStatus) -> Result<(), Failure> {
    match status {
        ExitStatus::Exited(output) => {
            println!("{}", super::text::for_stdout(&output));
            Ok(())
        }
        ExitStatus::Failed(reason) => Err(Failure::new(
            Code::ProcessFailed,
            format!("process {pid} failed: {}", clean(&reason)),
        )),
        ExitStatus::Killed => Err(Failure::new(
            Code::ProcessKilled,
            format!("process {pid} was killed"),
        )),
    }
}

/// Opens the process table of the state directory, after marking failed the processes of
/// any host that has died (see [`recover_dead_hosts`]), so what the caller reads is true.
pub(super) fn open_table(state_dir: Option<&Path>) -> Result<ProcessTable, Failure> {
    let state = StateDir::open(state_dir)?;
    let table = ProcessTable::open(state.db_path())
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    recover_dead_hosts(&table, state_dir);
    Ok(table)
}

/// Marks failed the live processes of hosts that ended without finishing them (`kill -9`, a
/// crash, a closed terminal), reporting each on stderr. A failure to do so is reported and
/// otherwise ignored: reading the table is still worth it.
pub(super) fn recover_dead_hosts(table: &ProcessTable, state_dir: Option<&Path>) {
    let Ok(state) = StateDir::open(state_dir) else {
        return;
    };
    match libos_proctable::hosts::recover(table, &state.hosts_dir(), None) {
        Ok(recovered) => {
            for lost in recovered {
                let pids: Vec<String> = lost.pids.iter().map(u64::to_string).collect();
                eprintln!(
                    "note: host {} has ended; its processes {} are marked failed",
                    lost.host,
                    pids.join(" ")
                );
            }
        }
        Err(e) => eprintln!("note: could not check for ended hosts: {e}"),
    }
}

/// The rows of `libos ps`: processes and what each (with its descendants) spent.
struct Rows<'a> {
    records: &'a [ProcessRecord],
    usage: &'a HashMap<u64, Usage>,
}

impl Rows<'_> {
    fn print_tree(&self, node: &ProcessRecord, depth: usize) {
        self.print_row(node, depth);
        for child in self.records.iter().filter(|r| r.parent == Some(node.pid)) {
            self.print_tree(child, depth + 1);
        }
    }

    fn print_row(&self, r: &ProcessRecord, depth: usize) {
        let parent = r.parent.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let state = clean(&r.state.to_string());
        let state: String = state.chars().take(24).collect();
        let image = format!("{}{}", "  ".repeat(depth), clean(&r.image));
        let used = self.usage.get(&r.pid).copied().unwrap_or_default();
        println!(
            "{:>6} {:>6}  {state:<24} {image:<24} {:>5} {:>7} {:>7}  {}",
            r.pid,
            parent,
            used.tool_calls,
            short(used.fuel),
            short(used.bytes_written),
            clean(&r.cwd)
        );
    }
}

/// `n` in at most 7 characters: `12345`, `1.2M`, `34G`.
fn short(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in UNITS {
        if n >= size {
            let value = n as f64 / size as f64;
            return if value < 10.0 {
                format!("{value:.1}{unit}")
            } else {
                format!("{value:.0}{unit}")
            };
        }
    }
    n.to_string()
}

fn process_failure(e: ProcessError) -> Failure {
    let code = match &e {
        ProcessError::NotFound(_) => Code::NotFound,
        ProcessError::Denied(_) => Code::Denied,
        ProcessError::LimitExceeded(_) => Code::LimitExceeded,
        ProcessError::Invalid(_) => Code::BadComponent,
        ProcessError::Host(_) => Code::Error,
    };
    Failure::new(code, e.to_string())
}
