//! Running one command: resolved program, empty environment, no stdin, capped output, a
//! timeout that ends the command's whole process group, and (when given) the kernel
//! confinement applied in the child before it executes the program.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::confine::Confinement;

/// The only environment a command gets.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What a finished command left.
pub struct Finished {
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: bool,
    pub timed_out: bool,
}

/// Why a command did not run.
pub enum NotRun {
    /// The program does not exist (message names it).
    NotFound(String),
    /// It could not be started.
    Io(String),
}

/// The program `argv0` names: a path (absolute, or relative to `cwd`), or a name found in
/// [`PATH`].
fn resolve(argv0: &str, cwd: &Path) -> Option<PathBuf> {
    let is_file = |p: &Path| p.metadata().is_ok_and(|m| m.is_file());
    if argv0.contains('/') {
        let p = if argv0.starts_with('/') {
            PathBuf::from(argv0)
        } else {
            cwd.join(argv0)
        };
        return is_file(&p).then_some(p);
    }
    PATH.split(':')
        .map(|dir| Path::new(dir).join(argv0))
        .find(|p| is_file(p))
}

/// Reads `stream` to its end, keeping at most `cap` bytes; returns them and whether more
/// came (which is read and dropped, so the command never blocks on a full pipe).
async fn capped(mut stream: impl AsyncRead + Unpin, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut more = false;
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return (kept, more),
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
                more |= n > room;
            }
        }
    }
}

/// Runs `argv` in `cwd` (see the module docs), confined by `confinement` when given.
pub async fn run(
    argv: &[String],
    cwd: &Path,
    timeout: Duration,
    cap: usize,
    confinement: Option<&Confinement>,
) -> Result<Finished, NotRun> {
    let Some(first) = argv.first() else {
        return Err(NotRun::NotFound("empty command".into()));
    };
    let program = resolve(first, cwd).ok_or_else(|| NotRun::NotFound(first.clone()))?;
    let mut command = tokio::process::Command::new(&program);
    command
        .args(&argv[1..])
        .current_dir(cwd)
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(confinement) = confinement {
        let (fd, limits) = confinement.for_child();
        // SAFETY: `apply_in_child` only makes system calls (async-signal-safe), and the
        // ruleset descriptor stays open until after the spawn (`confinement` outlives it).
        unsafe {
            command.pre_exec(move || super::confine::apply_in_child(fd, limits));
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| NotRun::Io(format!("{}: {e}", program.display())))?;
    let group = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw);
    let kill_group = || {
        if let Some(pid) = group {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    };
    let out = child.stdout.take().map(|s| tokio::spawn(capped(s, cap)));
    let err = child.stderr.take().map(|s| tokio::spawn(capped(s, cap)));
    let status = tokio::time::timeout(timeout, child.wait()).await;
    // Whatever the command started and left behind ends with it (and closes the pipes).
    kill_group();
    let timed_out = status.is_err();
    let exit_code = match status {
        Ok(Ok(status)) => status.code(),
        Ok(Err(e)) => return Err(NotRun::Io(e.to_string())),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let collect = |task: Option<tokio::task::JoinHandle<(Vec<u8>, bool)>>| async move {
        match task {
            Some(task) => tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => (Vec::new(), false),
        }
    };
    let (out, err) = tokio::join!(collect(out), collect(err));
    Ok(Finished {
        exit_code,
        stdout: out.0,
        stderr: err.0,
        truncated: out.1 || err.1,
        timed_out,
    })
}
