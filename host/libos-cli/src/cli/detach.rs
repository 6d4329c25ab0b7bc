//! `libos run --detach`: the host of a new process tree as a background `libos` process.
//!
//! The foreground invocation starts `libos run` again (same image, input, working directory
//! and state directory) in its own process group with a hidden `--pid-file`, waits until the
//! background host has written the root's pid there, prints it and returns. The background
//! host serves the tree until its root ends; its own messages go to `hosts/run-<pid>.log` in
//! the state directory. Everything else is reached as for any process: `libos ps`, `logs`,
//! `wait`, `kill`, `pause`, `resume`.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libos::state::StateDir;

use super::exit::{Code, Failure};
use super::process::RunArgs;

/// How long the foreground invocation waits for the background host to start the root.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `args` in a background host; prints the root's pid once it runs.
pub fn run_detached(
    args: &RunArgs,
    workdir: &Path,
    state_dir: Option<&Path>,
    strict_imports: libos::wasm::validate::Strictness,
) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let hosts = state.hosts_dir();
    fs::create_dir_all(&hosts).map_err(|e| io_failure(&hosts, &e))?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(Code::Error, format!("locating the libos binary: {e}")))?;
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let pid_file = hosts.join(format!("start-{stamp}.pid"));
    let host_log = hosts.join(format!("start-{stamp}.log"));
    let log = fs::File::create(&host_log).map_err(|e| io_failure(&host_log, &e))?;
    let err_log = log.try_clone().map_err(|e| io_failure(&host_log, &e))?;
    let mut command = Command::new(exe);
    if strict_imports == libos::wasm::validate::Strictness::Strict {
        command.arg("--strict-imports");
    }
    let mut child = command
        .arg("--state-dir")
        .arg(state.root())
        .arg("run")
        .arg(&args.image)
        .arg("--input")
        .arg(&args.input)
        .arg("--workdir")
        .arg(workdir)
        .arg("--max-processes")
        .arg(args.max_processes.to_string())
        .arg("--pid-file")
        .arg(&pid_file)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        // Its own process group: a Ctrl-C or hang-up of this terminal does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::new(Code::Error, format!("starting the background host: {e}")))?;
    let started = Instant::now();
    loop {
        if let Some(pid) = read_pid(&pid_file) {
            let _ = fs::remove_file(&pid_file);
            let named_log = hosts.join(format!("run-{pid}.log"));
            let shown = match fs::rename(&host_log, &named_log) {
                Ok(()) => named_log,
                Err(_) => host_log,
            };
            println!("{pid}");
            eprintln!(
                "process {pid} runs in the background (host messages: {}); \
                 `libos wait {pid}` prints its output",
                shown.display()
            );
            return Ok(());
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                let said = fs::read_to_string(&host_log).unwrap_or_default();
                let _ = fs::remove_file(&host_log);
                return Err(Failure::new(
                    Code::Error,
                    format!(
                        "the background host ended before starting the process ({status}): {}",
                        said.trim().trim_start_matches("error: ")
                    ),
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(Failure::new(Code::Error, format!("background host: {e}"))),
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(Failure::new(
                Code::Error,
                format!(
                    "the background host did not start the process within {}s; see {}",
                    START_TIMEOUT.as_secs(),
                    host_log.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `pid` to `path` atomically (a temporary file renamed over it).
pub fn write_pid(path: &Path, pid: u64) -> Result<(), Failure> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    fs::write(&tmp, pid.to_string()).map_err(|e| io_failure(&tmp, &e))?;
    fs::rename(&tmp, path).map_err(|e| io_failure(path, &e))
}

fn read_pid(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn io_failure(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(Code::Error, format!("{}: {e}", path.display()))
}
