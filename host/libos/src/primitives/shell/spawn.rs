//! Starting a command without copying the host: `clone(CLONE_VM | CLONE_VFORK)`.
//!
//! A confined command needs system calls between its start and its `execve` (limits,
//! `no_new_privs`, capabilities, seccomp, Landlock). The standard library runs such a hook in
//! a `fork`ed copy of the host, and copying the page tables of a host with a few hundred
//! mapped MiB cost more than the whole rest of a command. So a command starts the way
//! `posix_spawn` starts one: the child shares the host's memory, runs on a stack of its own,
//! and the calling thread stays suspended until the child has called `execve` (or exited).
//!
//! The contract of the child ([`child_main`]): it makes system calls only, on data the parent
//! prepared before the clone ([`Program`], the stdio descriptors, the confinement); it
//! allocates nothing and takes no lock. The program receives descriptors 0, 1 and 2 only. Every signal is blocked from before the clone until
//! just before the `execve`, and the child resets every handler to the default first, so no
//! handler of the host ever runs in it. It becomes the leader of its own process group, so
//! the group can be killed as one ([`Child::kill_group`]); a pidfd names it for waiting.
//!
//! A child that fails before `execve` reports the step and the `errno` in memory it shares
//! with the parent and exits 127; [`spawn`] then reaps it and returns [`SpawnError`].

use std::ffi::{CString, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::io::unix::AsyncFd;

use super::confine::{ChildLimits, apply_in_child};

/// Size of the stack the child runs on until `execve` (its frames are a few KiB; the lowest
/// page is a guard).
const STACK_BYTES: usize = 128 << 10;

/// The program, arguments, environment and directory of a command, as C strings.
pub struct Program {
    path: CString,
    cwd: CString,
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}

// SAFETY: the raw pointers point into `_strings`, owned by the same value and never changed.
unsafe impl Send for Program {}
// SAFETY: as above; nothing is mutated through them.
unsafe impl Sync for Program {}

impl Program {
    /// `path` run with `argv` (whose first entry is what the program sees as its name) and
    /// `env` in `cwd`; `None` if any of them holds a NUL byte.
    pub fn new(path: &Path, argv: &[String], env: &[String], cwd: &Path) -> Option<Program> {
        let path = CString::new(path.as_os_str().as_bytes()).ok()?;
        let cwd = CString::new(cwd.as_os_str().as_bytes()).ok()?;
        let args: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()).ok())
            .collect::<Option<_>>()?;
        let vars: Vec<CString> = env
            .iter()
            .map(|v| CString::new(v.as_bytes()).ok())
            .collect::<Option<_>>()?;
        let pointers = |strings: &[CString]| -> Vec<*const c_char> {
            strings
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        // Moving a CString into `_strings` keeps its heap buffer where it is.
        let argv = pointers(&args);
        let envp = pointers(&vars);
        let mut strings = args;
        strings.extend(vars);
        Some(Program {
            path,
            cwd,
            _strings: strings,
            argv,
            envp,
        })
    }
}

/// The step of the child's start that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Step {
    /// Making its own process group.
    Group = 1,
    /// Putting stdin, stdout and stderr in place.
    Stdio = 2,
    /// Changing to the working directory.
    Directory = 3,
    /// Applying the confinement (limits, privileges, seccomp, Landlock).
    Confine = 4,
    /// `execve` itself.
    Exec = 5,
}

impl Step {
    fn from_raw(raw: i32) -> Option<Step> {
        Some(match raw {
            1 => Step::Group,
            2 => Step::Stdio,
            3 => Step::Directory,
            4 => Step::Confine,
            5 => Step::Exec,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Group => "making its process group",
            Step::Stdio => "connecting its output",
            Step::Directory => "entering the working directory",
            Step::Confine => "confining it",
            Step::Exec => "executing the program",
        })
    }
}

/// Why a command did not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The host could not prepare or clone the child.
    #[error("cannot start a command: {0}")]
    Host(io::Error),
    /// The child failed at `step` before running the program.
    #[error("the command failed before it ran, {step}: {error}")]
    Child { step: Step, error: io::Error },
}

/// What the parent and the child share while the child starts.
struct Shared<'a> {
    program: &'a Program,
    stdio: [RawFd; 3],
    confinement: Option<(RawFd, ChildLimits)>,
    /// The signal mask to restore before `execve` (the parent thread's own).
    mask: libc::sigset_t,
    step: AtomicI32,
    errno: AtomicI32,
}

/// A stack for the child: anonymous memory with a guard page at its low end.
struct Stack {
    base: *mut c_void,
}

impl Stack {
    fn new() -> io::Result<Stack> {
        // SAFETY: an anonymous private mapping; no memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base };
        // SAFETY: the first page of the mapping just made.
        if unsafe { libc::mprotect(base, page_size(), libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The top of the stack (it grows down), 16-byte aligned.
    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, which is page aligned.
        unsafe { self.base.cast::<u8>().add(STACK_BYTES).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; the child no longer runs on it (it has exec'd
        // or exited before `clone` returned).
        unsafe { libc::munmap(self.base, STACK_BYTES) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// A descriptor for the child's side at number 3 or above, so that putting `stdio` in place
/// never overwrites one not yet in place.
fn above_stdio(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: duplicating a descriptor the caller holds open.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Starts `program` with `stdio` as its descriptors 0, 1 and 2 (see the module docs),
/// confined by `confinement` (the ruleset descriptor and the limits) when given.
///
/// # Errors
/// [`SpawnError`] when the child could not be made, or failed before running the program
/// (it is reaped then).
pub fn spawn(
    program: &Program,
    stdio: [&OwnedFd; 3],
    confinement: Option<(RawFd, ChildLimits)>,
) -> Result<Child, SpawnError> {
    let stdio = [
        above_stdio(stdio[0].as_raw_fd()).map_err(SpawnError::Host)?,
        above_stdio(stdio[1].as_raw_fd()).map_err(SpawnError::Host)?,
        above_stdio(stdio[2].as_raw_fd()).map_err(SpawnError::Host)?,
    ];
    let stack = Stack::new().map_err(SpawnError::Host)?;
    let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: valid pointers; sigfillset initializes `all`, pthread_sigmask `old`.
    let old = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        let rc = libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr());
        if rc != 0 {
            return Err(SpawnError::Host(io::Error::from_raw_os_error(rc)));
        }
        old.assume_init()
    };
    let shared = Shared {
        program,
        stdio: [
            stdio[0].as_raw_fd(),
            stdio[1].as_raw_fd(),
            stdio[2].as_raw_fd(),
        ],
        confinement,
        mask: old,
        step: AtomicI32::new(0),
        errno: AtomicI32::new(0),
    };
    let mut pidfd: c_int = -1;
    // SAFETY: the child runs `child_main` on `stack` with `shared`, both alive until clone
    // returns (CLONE_VFORK: after the child's execve or exit); `pidfd` receives the pidfd.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD,
            std::ptr::from_ref(&shared).cast_mut().cast(),
            &mut pidfd as *mut c_int,
        )
    };
    let clone_error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    drop(stack);
    if pid < 0 || pidfd < 0 {
        return Err(SpawnError::Host(clone_error));
    }
    // SAFETY: the kernel opened `pidfd` for this call (CLONE_PIDFD); nobody else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // SAFETY: the AsyncFd owns `pidfd`, which stays open and the same until it is dropped.
    let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }
        .map_err(|e| {
            // Not watched: killed and reaped here (a killed child ends at once).
            let (pidfd, cause) = e.into_parts();
            let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
            let _ = rustix::process::waitid(
                rustix::process::WaitId::PidFd(pidfd.as_fd()),
                rustix::process::WaitIdOptions::EXITED,
            );
            SpawnError::Host(cause)
        })?;
    let mut child = Child {
        pid,
        pidfd,
        reaped: false,
    };
    if let Some(step) = Step::from_raw(shared.step.load(Ordering::SeqCst)) {
        child.reap_now();
        let error = io::Error::from_raw_os_error(shared.errno.load(Ordering::SeqCst));
        return Err(SpawnError::Child { step, error });
    }
    Ok(child)
}

/// Records the failed `step` and the current `errno` for the parent, and exits.
fn fail(shared: &Shared<'_>, step: Step) -> ! {
    let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    shared.errno.store(errno, Ordering::SeqCst);
    shared.step.store(step as i32, Ordering::SeqCst);
    // SAFETY: ends the child without running anything of the host's.
    unsafe { libc::_exit(127) }
}

/// The child, from the clone to `execve` (see the module docs for its contract).
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Shared` the parent keeps alive while it is suspended.
    let shared = unsafe { &*arg.cast::<Shared<'_>>() };
    // SAFETY: system calls on values prepared by the parent; see each.
    unsafe {
        // Default handlers (the child has its own copy of the table: no CLONE_SIGHAND).
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=64 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                // Fails (harmlessly) for the signals the C library reserves.
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        if libc::setpgid(0, 0) != 0 {
            fail(shared, Step::Group);
        }
        for (target, fd) in shared.stdio.iter().enumerate() {
            // `fd` is at least 3 (`above_stdio`), so dup2 always makes a new descriptor
            // without close-on-exec.
            if libc::dup2(*fd, target as c_int) < 0 {
                fail(shared, Step::Stdio);
            }
        }
        if libc::chdir(shared.program.cwd.as_ptr()) != 0 {
            fail(shared, Step::Directory);
        }
        if let Some((ruleset, limits)) = shared.confinement
            && apply_in_child(ruleset, limits).is_err()
        {
            fail(shared, Step::Confine);
        }
        // Nothing but stdin, stdout and stderr reaches the program: not a descriptor the host
        // opened without close-on-exec, nor one it inherited from whoever started it.
        if close_above_stdio() != 0 {
            fail(shared, Step::Stdio);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &shared.mask, std::ptr::null_mut());
        libc::execve(
            shared.program.path.as_ptr(),
            shared.program.argv.as_ptr(),
            shared.program.envp.as_ptr(),
        );
        fail(shared, Step::Exec)
    }
}

/// Marks every descriptor above stderr close-on-exec (`close_range`, Linux 5.11), else closes
/// them (Linux 5.9), else closes them one by one up to the descriptor limit; 0 when done.
///
/// # Safety
/// Only in the child (it has its own descriptor table: no `CLONE_FILES`).
unsafe fn close_above_stdio() -> c_int {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range takes integers.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) == 0
            || libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) == 0
        {
            return 0;
        }
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return -1;
        }
        let top = c_int::try_from(limit.rlim_cur).unwrap_or(c_int::MAX);
        for fd in 3..top {
            libc::close(fd);
        }
    }
    0
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

/// A started command: the leader of its process group, not yet reaped. Dropping it kills
/// the whole group and reaps the leader.
pub struct Child {
    pid: i32,
    pidfd: AsyncFd<OwnedFd>,
    reaped: bool,
}

impl Child {
    /// Kills every process of the command's group (the leader, unreaped, keeps the group's
    /// id from being reused).
    pub fn kill_group(&self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ =
            rustix::process::pidfd_send_signal(self.pidfd.get_ref(), rustix::process::Signal::KILL);
    }

    /// Waits until the leader has exited, without reaping it (so its group can still be
    /// killed by id).
    pub async fn exited(&self) -> io::Result<()> {
        loop {
            let mut ready = self.pidfd.readable().await?;
            if self.has_exited()? {
                return Ok(());
            }
            ready.clear_ready();
        }
    }

    fn has_exited(&self) -> io::Result<bool> {
        let status = rustix::process::waitid(
            rustix::process::WaitId::PidFd(self.pidfd.get_ref().as_fd()),
            rustix::process::WaitIdOptions::EXITED
                | rustix::process::WaitIdOptions::NOHANG
                | rustix::process::WaitIdOptions::NOWAIT,
        )?;
        Ok(status.is_some())
    }

    /// Reaps the leader after [`Child::exited`]: how it ended.
    pub fn reap(&mut self) -> io::Result<Exit> {
        let status = rustix::process::waitid(
            rustix::process::WaitId::PidFd(self.pidfd.get_ref().as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        )?;
        self.reaped = true;
        let status = status.ok_or_else(|| io::Error::other("the command had not exited"))?;
        Ok(match (status.exit_status(), status.terminating_signal()) {
            (_, Some(signal)) => Exit::Signal(signal),
            (Some(code), None) => Exit::Code(code),
            (None, None) => Exit::Signal(0),
        })
    }

    /// Kills the group and reaps the leader, blocking (only for a child that has exited or
    /// was just killed).
    fn reap_now(&mut self) {
        self.kill_group();
        let _ = self.reap();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.kill_group();
        // Killed: it ends at once unless it is inside an uninterruptible system call, so a
        // thread waits for it rather than this (possibly async) caller.
        let fd = self.pidfd.get_ref().try_clone();
        if let Ok(fd) = fd {
            let _ = std::thread::Builder::new()
                .name("libos-reap".into())
                .spawn(move || {
                    let _ = rustix::process::waitid(
                        rustix::process::WaitId::PidFd(fd.as_fd()),
                        rustix::process::WaitIdOptions::EXITED,
                    );
                });
        }
    }
}
