//! Running one command: resolved program, empty environment, no stdin, capped output, a
//! timeout that ends the command's whole process group, and (when given) the kernel
//! confinement applied in the child before it executes the program. Started by
//! [`super::spawn`] (no copy of the host); whatever the command leaves running when it ends
//! or times out is killed with its group (the confinement keeps every process of it in the
//! group: `privileges.rs`).

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::unix::pipe;

use super::confine::Confinement;
use super::spawn::{self, Exit, Program, SpawnError, Step};

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

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills two descriptors into a valid array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The read end of a pipe as a stream (non-blocking from now on).
fn reader(fd: OwnedFd) -> std::io::Result<pipe::Receiver> {
    pipe::Receiver::from_owned_fd(fd)
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
    let env = [format!("PATH={PATH}")];
    let plan = Program::new(&program, argv, &env, cwd)
        .ok_or_else(|| NotRun::Io("the command holds a NUL byte".into()))?;
    let io = |e: std::io::Error| NotRun::Io(format!("{}: {e}", program.display()));
    let null: OwnedFd = std::fs::File::open("/dev/null").map_err(io)?.into();
    let (out_read, out_write) = pipe().map_err(io)?;
    let (err_read, err_write) = pipe().map_err(io)?;
    let child =
        spawn::spawn(&plan, [&null, &out_write, &err_write], confinement).map_err(|e| match e {
            SpawnError::Child {
                step: Step::Exec,
                error,
            } if error.kind() == std::io::ErrorKind::NotFound => NotRun::NotFound(first.clone()),
            e => NotRun::Io(format!("{}: {e}", program.display())),
        })?;
    // Only the child holds the write ends now: the reads end when it and whatever it
    // started are gone.
    drop((null, out_write, err_write));
    let out = tokio::spawn(capped(reader(out_read).map_err(io)?, cap));
    let err = tokio::spawn(capped(reader(err_read).map_err(io)?, cap));
    let mut child = child;
    let status = tokio::time::timeout(timeout, child.exited()).await;
    // Whatever the command started and left behind ends with it (and closes the pipes); the
    // leader, not yet reaped, keeps the group's id.
    child.kill_group();
    let timed_out = status.is_err();
    if let Ok(Err(e)) = status {
        return Err(NotRun::Io(e.to_string()));
    }
    if timed_out {
        child
            .exited()
            .await
            .map_err(|e| NotRun::Io(e.to_string()))?;
    }
    let exit_code = match child.reap().map_err(|e| NotRun::Io(e.to_string()))? {
        Exit::Code(code) if !timed_out => Some(code),
        _ => None,
    };
    let collect = |task: tokio::task::JoinHandle<(Vec<u8>, bool)>| async move {
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
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
