//! `libos run | ps | wait | kill`: AgentProcesses from the shell.
//!
//! `run` is a host: it starts the image as the root of a new process tree and serves the
//! tree until the root ends. The other commands read and write the process table in the
//! state directory, so they work from any terminal while the host runs.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use libos::host::HostOptions;
use libos::state::StateDir;
use libos_process::{ExitStatus, Kernel, ProcessError, Start};
use libos_proctable::{ProcessQuery, ProcessRecord, ProcessTable, Usage};

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
    /// Most processes the host keeps alive at once (the tree and any other it serves);
    /// instance slots for them and their tool calls are reserved at start. Lowered, with a
    /// warning naming the limit, where the kernel's `vm.max_map_count` or the open-file
    /// limit allows fewer.
    #[arg(
        long,
        env = "LIBOS_MAX_PROCESSES",
        value_name = "N",
        default_value_t = libos::wasm::engine::DEFAULT_MAX_PROCESSES,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(libos::wasm::engine::MAX_PROCESSES))
    )]
    pub max_processes: u32,
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
    /// Only processes in this state (repeat or separate by commas): created, ready, running,
    /// blocked, paused, exited, failed, killed.
    #[arg(long, value_name = "STATE", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(STATE_NAMES))]
    pub state: Vec<String>,
    /// Only processes running this image: NAME (any version), NAME:VERSION or sha256:PREFIX.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Only the direct children of this process.
    #[arg(long, value_name = "PID")]
    pub parent: Option<u64>,
    /// At most this many processes (the lowest pids that match).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print JSON (one array of process records).
    #[arg(long)]
    pub json: bool,
}

/// The state names `ps --state` takes.
const STATE_NAMES: [&str; 8] = [
    "created", "ready", "running", "blocked", "paused", "exited", "failed", "killed",
];

/// Runs `image` as the root of a new tree, prints its output and exits with its status
/// (or, with `--detach`, leaves that to a background host and prints the pid).
pub fn run(
    args: RunArgs,
    state_dir: Option<&Path>,
    strict_imports: libos::wasm::validate::Strictness,
) -> Result<(), Failure> {
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
        // The background host logs it to its own file: say it here too.
        if let Some(limit) = libos::wasm::capacity::fit(args.max_processes).limited_by {
            eprintln!("warning: {limit}");
        }
        return super::detach::run_detached(&args, &workdir, state_dir, strict_imports);
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        // Sized to the kernel's limits; a warning says so when they allow fewer.
        let kernel = Kernel::new(HostOptions {
            state_dir: state_dir.map(Path::to_path_buf),
            strict_imports,
            ..HostOptions::serving(args.max_processes)
        })
        .map_err(process_failure)?;
        // A background host also resumes what dead hosts left, and serves it to its end.
        let adopted = if args.pid_file.is_some() {
            super::serve::adopt(&kernel).await?
        } else {
            Vec::new()
        };
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
        let ended = kernel.end_tree(pid).map_err(process_failure)?;
        if !ended.is_empty() {
            eprintln!(
                "process {pid} ended: {} live descendant(s) killed with it",
                ended.len()
            );
        }
        for other in adopted {
            let _ = kernel.wait(other).await;
        }
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
    let query = ProcessQuery {
        live: args.live,
        states: args.state.clone(),
        image: args.image.clone(),
        parent: args.parent,
        host: None,
        limit: args.limit,
    };
    let records = table
        .query(&query)
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    let usage = table
        .usage()
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    // One buffered writer: a row is not a system call. A reader that goes away ends the
    // command (SIGPIPE, see `cli::main`); any other write error is reported.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        write_json(&mut out, &records, &usage)
    } else {
        Rows {
            records: &records,
            usage: &usage,
        }
        .write(&mut out, args.tree)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(Code::Error, format!("writing the list: {e}")))
}

/// `records` as one JSON array, each with its usage, one record per line, written as it goes
/// (no document of the whole table is built in memory).
fn write_json(
    out: &mut impl Write,
    records: &[ProcessRecord],
    usage: &HashMap<u64, Usage>,
) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        record: &'a ProcessRecord,
        usage: Usage,
    }
    out.write_all(b"[")?;
    for (i, record) in records.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        let row = Row {
            record,
            usage: usage.get(&record.pid).copied().unwrap_or_default(),
        };
        serde_json::to_writer(&mut *out, &row)?;
    }
    out.write_all(b"\n]\n")
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
            note_orphans(&table, state_dir);
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

/// Opens the process table of the state directory, noting on stderr any processes whose
/// host has died (see [`note_orphans`]).
pub(super) fn open_table(state_dir: Option<&Path>) -> Result<ProcessTable, Failure> {
    let state = StateDir::open(state_dir)?;
    let table = ProcessTable::open(state.db_path())
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    note_orphans(&table, state_dir);
    Ok(table)
}

/// Says on stderr (once per invocation) which hosts ended without finishing their
/// processes (`kill -9`, a crash, a closed terminal): those processes wait, as they were,
/// for a host that adopts and resumes them (`libos serve`, or the next `libos run
/// --detach`). A failure to look is reported and otherwise ignored.
pub(super) fn note_orphans(table: &ProcessTable, state_dir: Option<&Path>) {
    static NOTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if NOTED.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let Ok(state) = StateDir::open(state_dir) else {
        return;
    };
    let dead = match libos_proctable::hosts::dead(table, &state.hosts_dir()) {
        Ok(dead) => dead,
        Err(e) => {
            eprintln!("note: could not check for ended hosts: {e}");
            return;
        }
    };
    for host in &dead {
        let waiting = table.owned_by(host).map_or(0, |p| p.len());
        eprintln!(
            "note: host {} has ended; its {waiting} live process(es) wait to be resumed \
             (`libos serve`, or the next `libos run --detach`)",
            clean(host)
        );
    }
    if !dead.is_empty() {
        NOTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The rows of `libos ps`: processes and what each (with its descendants) spent.
struct Rows<'a> {
    records: &'a [ProcessRecord],
    usage: &'a HashMap<u64, Usage>,
}

impl Rows<'_> {
    /// The header and a row per process: by pid, or (`tree`) each under its parent, a
    /// process whose parent is not listed at the top.
    fn write(&self, out: &mut impl Write, tree: bool) -> std::io::Result<()> {
        writeln!(
            out,
            "{:>6} {:>6}  {:<24} {:<24} {:>5} {:>7} {:>7}  CWD",
            "PID", "PPID", "STATE", "IMAGE", "TOOLS", "FUEL", "WRITTEN"
        )?;
        if !tree {
            for r in self.records {
                self.write_row(out, r, 0)?;
            }
            return Ok(());
        }
        let listed: HashSet<u64> = self.records.iter().map(|r| r.pid).collect();
        let mut children: HashMap<u64, Vec<&ProcessRecord>> = HashMap::new();
        for r in self.records {
            if let Some(parent) = r.parent.filter(|p| listed.contains(p)) {
                children.entry(parent).or_default().push(r);
            }
        }
        // Depth first without recursion (a tree may be as deep as it is large).
        let mut stack: Vec<(&ProcessRecord, usize)> = self
            .records
            .iter()
            .rev()
            .filter(|r| r.parent.is_none_or(|p| !listed.contains(&p)))
            .map(|r| (r, 0))
            .collect();
        while let Some((node, depth)) = stack.pop() {
            self.write_row(out, node, depth)?;
            if let Some(below) = children.get(&node.pid) {
                stack.extend(below.iter().rev().map(|c| (*c, depth + 1)));
            }
        }
        Ok(())
    }

    fn write_row(
        &self,
        out: &mut impl Write,
        r: &ProcessRecord,
        depth: usize,
    ) -> std::io::Result<()> {
        let parent = r.parent.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let state = clean(&r.state.to_string());
        let state: String = state.chars().take(24).collect();
        // Indentation stops deepening at 32 levels: a deep chain stays readable.
        let image = format!("{}{}", "  ".repeat(depth.min(32)), clean(&r.image));
        let used = self.usage.get(&r.pid).copied().unwrap_or_default();
        writeln!(
            out,
            "{:>6} {:>6}  {state:<24} {image:<24} {:>5} {:>7} {:>7}  {}",
            r.pid,
            parent,
            used.tool_calls,
            short(used.fuel),
            short(used.bytes_written),
            clean(&r.cwd)
        )
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
        ProcessError::LimitExceeded(_) | ProcessError::Capacity(_) => Code::LimitExceeded,
        ProcessError::Invalid(_) => Code::BadComponent,
        ProcessError::Host(_) => Code::Error,
    };
    Failure::new(code, e.to_string())
}
