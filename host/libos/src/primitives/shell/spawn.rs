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
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use tokio::io::unix::AsyncFd;

use super::confine::Confinement;

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
    /// Entering its own user and pid namespaces (writing its identity maps).
    Namespace = 6,
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
            6 => Step::Namespace,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Namespace => "entering its namespaces",
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
    confinement: Option<&'a Confinement>,
    /// The signal mask the program starts with (empty).
    mask: libc::sigset_t,
    /// Identity maps for a new user namespace: `setgroups`, `uid_map`, `gid_map` contents.
    maps: [CString; 3],
    /// Whether the child was cloned into new user and pid namespaces.
    namespaced: std::sync::atomic::AtomicBool,
    step: AtomicI32,
    errno: AtomicI32,
}

/// A stack for the child: anonymous memory with a guard page at its low end.
struct Stack {
    base: *mut c_void,
}

// SAFETY: the mapping belongs to the `Stack` alone; only the spawner thread uses it.
unsafe impl Send for Stack {}

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
        // SAFETY: the mapping made in `new`; no child runs on it (each has exec'd or exited
        // before its `clone` returned).
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

/// Whether commands get user and pid namespaces of their own: unknown until the first try,
/// then remembered (a kernel or a container that refuses them refuses every time).
static NAMESPACES: AtomicU8 = AtomicU8::new(NAMESPACES_UNKNOWN);
const NAMESPACES_UNKNOWN: u8 = 0;
const NAMESPACES_USABLE: u8 = 1;
const NAMESPACES_REFUSED: u8 = 2;

/// Starts `program` with `stdio` as its descriptors 0, 1 and 2 (see the module docs),
/// confined by `confinement` when given.
///
/// # Errors
/// [`SpawnError`] when the child could not be made, or failed before running the program
/// (it is reaped then).
pub fn spawn(
    program: &Program,
    stdio: [&OwnedFd; 3],
    confinement: Option<&Confinement>,
) -> Result<Child, SpawnError> {
    let stdio = [
        above_stdio(stdio[0].as_raw_fd()).map_err(SpawnError::Host)?,
        above_stdio(stdio[1].as_raw_fd()).map_err(SpawnError::Host)?,
        above_stdio(stdio[2].as_raw_fd()).map_err(SpawnError::Host)?,
    ];
    let mut mask = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initializes the set.
    let mask = unsafe {
        libc::sigemptyset(mask.as_mut_ptr());
        mask.assume_init()
    };
    // SAFETY: getuid/getgid take nothing.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let map = |line: String| CString::new(line).unwrap_or_default();
    loop {
        let shared = Shared {
            program,
            stdio: [
                stdio[0].as_raw_fd(),
                stdio[1].as_raw_fd(),
                stdio[2].as_raw_fd(),
            ],
            confinement,
            mask,
            maps: [
                map("deny".into()),
                map(format!("{uid} {uid} 1")),
                map(format!("{gid} {gid} 1")),
            ],
            namespaced: std::sync::atomic::AtomicBool::new(false),
            step: AtomicI32::new(0),
            errno: AtomicI32::new(0),
        };
        let (pid, pidfd) = spawner::start(&shared).map_err(SpawnError::Host)?;
        let mut child = Child::watch(pid, pidfd)?;
        let Some(step) = Step::from_raw(shared.step.load(Ordering::SeqCst)) else {
            return Ok(child);
        };
        child.reap_now();
        let errno = shared.errno.load(Ordering::SeqCst);
        let configured = matches!(errno, libc::EPERM | libc::EACCES | libc::EINVAL);
        if step == Step::Namespace && shared.namespaced.load(Ordering::SeqCst) && configured {
            // The kernel made the namespaces but its configuration will not let the child map
            // itself into them: start it again without, from now on. (Anything else, such as
            // the system running out of open files, fails this command only.)
            tracing::warn!(
                errno,
                "a command cannot map itself into its user namespace; commands run without \
                 user and pid namespaces of their own from now on"
            );
            NAMESPACES.store(NAMESPACES_REFUSED, Ordering::Relaxed);
            continue;
        }
        let error = io::Error::from_raw_os_error(errno);
        return Err(SpawnError::Child { step, error });
    }
}

/// The thread every command is cloned from. A command's first process is sent `SIGKILL`
/// when the thread that cloned it ends (`PR_SET_PDEATHSIG`); this thread ends only with the
/// host, so a command ends with the host (and, in its own pid namespace, all of it).
mod spawner {
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::atomic::Ordering;
    use std::sync::{Mutex, OnceLock, mpsc};

    use super::{NAMESPACES, NAMESPACES_REFUSED, NAMESPACES_USABLE, Shared, Stack, child_main};

    /// A start asked of the thread: the shared data (alive until the reply is received) and
    /// where to reply.
    struct Job {
        shared: *const Shared<'static>,
        reply: mpsc::SyncSender<io::Result<(i32, OwnedFd)>>,
    }

    // SAFETY: the pointer is read only while the sender waits for the reply (see `start`).
    unsafe impl Send for Job {}

    fn thread() -> io::Result<&'static Mutex<mpsc::Sender<Job>>> {
        static SENDER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
        if let Some(sender) = SENDER.get() {
            return Ok(sender);
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let stack = Stack::new()?;
        std::thread::Builder::new()
            .name("libos-spawner".into())
            .spawn(move || serve(&rx, &stack))?;
        Ok(SENDER.get_or_init(|| Mutex::new(tx)))
    }

    fn serve(jobs: &mpsc::Receiver<Job>, stack: &Stack) {
        // No signal handler of the host ever runs on this thread (nor in a child before its
        // `execve`: it starts with this mask).
        let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initializes `all` before it is read.
        unsafe {
            libc::sigfillset(all.as_mut_ptr());
            libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), std::ptr::null_mut());
        }
        while let Ok(job) = jobs.recv() {
            // SAFETY: the sender waits for the reply, keeping `shared` alive.
            let shared = unsafe { &*job.shared };
            let _ = job.reply.send(clone(stack, shared));
        }
    }

    /// Clones the child (in new user and pid namespaces unless they were refused before).
    fn clone(stack: &Stack, shared: &Shared<'_>) -> io::Result<(i32, OwnedFd)> {
        let base = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
        let namespaces = libc::CLONE_NEWUSER | libc::CLONE_NEWPID | libc::CLONE_NEWIPC;
        let mut try_namespaces = NAMESPACES.load(Ordering::Relaxed) != NAMESPACES_REFUSED;
        loop {
            let flags = if try_namespaces {
                base | namespaces
            } else {
                base
            };
            shared.namespaced.store(try_namespaces, Ordering::SeqCst);
            let mut pidfd: libc::c_int = -1;
            // SAFETY: the child runs `child_main` on `stack` with `shared`, both alive until
            // clone returns (CLONE_VFORK: after the child's execve or exit).
            let pid = unsafe {
                libc::clone(
                    child_main,
                    stack.top(),
                    flags,
                    std::ptr::from_ref(shared).cast_mut().cast(),
                    &mut pidfd as *mut libc::c_int,
                )
            };
            if pid < 0 || pidfd < 0 {
                let error = io::Error::last_os_error();
                // Refused by the kernel's or a container's configuration: for good. Out of
                // namespaces (a limit of the user's, which others may have used up) is not
                // remembered: this command fails, and the next one tries again.
                let refused = matches!(
                    error.raw_os_error(),
                    Some(libc::EPERM | libc::EINVAL | libc::EACCES)
                );
                if try_namespaces && refused {
                    tracing::warn!(
                        %error,
                        "the kernel refuses commands user and pid namespaces of their own; \
                         commands run without (a process a command leaves behind outlives \
                         the host if it dies)"
                    );
                    NAMESPACES.store(NAMESPACES_REFUSED, Ordering::Relaxed);
                    try_namespaces = false;
                    continue;
                }
                if try_namespaces
                    && matches!(error.raw_os_error(), Some(libc::ENOSPC | libc::EUSERS))
                {
                    return Err(io::Error::new(
                        error.kind(),
                        format!(
                            "no user namespace left for the command ({error}): the user's \
                             limit (/proc/sys/user/max_user_namespaces) is reached"
                        ),
                    ));
                }
                return Err(error);
            }
            if try_namespaces {
                let _ = NAMESPACES.compare_exchange(
                    super::NAMESPACES_UNKNOWN,
                    NAMESPACES_USABLE,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            // SAFETY: the kernel opened `pidfd` for this call (CLONE_PIDFD); nobody else owns it.
            return Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) }));
        }
    }

    /// Starts the child of `shared` on the spawner thread and waits until it has exec'd or
    /// exited.
    pub(super) fn start(shared: &Shared<'_>) -> io::Result<(i32, OwnedFd)> {
        let (reply, wait) = mpsc::sync_channel(1);
        let job = Job {
            shared: std::ptr::from_ref(shared).cast(),
            reply,
        };
        thread()?
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| io::Error::other("the spawner thread is gone"))?;
        // Until this returns, `shared` stays borrowed here: the job's pointer stays valid.
        wait.recv()
            .map_err(|_| io::Error::other("the spawner thread is gone"))?
    }
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
        // Ends with the thread that cloned it, i.e. with the host.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if shared.namespaced.load(Ordering::SeqCst) && map_identity(&shared.maps).is_err() {
            fail(shared, Step::Namespace);
        }
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
        if let Some(confinement) = shared.confinement
            && confinement.apply().is_err()
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

/// Maps the child's user and group to themselves in its new user namespace (`setgroups`
/// denied first, as an unprivileged `gid_map` requires). System calls only.
fn map_identity(maps: &[CString; 3]) -> Result<(), ()> {
    const FILES: [&std::ffi::CStr; 3] = [
        c"/proc/self/setgroups",
        c"/proc/self/uid_map",
        c"/proc/self/gid_map",
    ];
    for (file, contents) in FILES.iter().zip(maps) {
        // SAFETY: open/write/close on NUL-terminated strings prepared by the parent.
        unsafe {
            let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(());
            }
            let bytes = contents.as_bytes();
            let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
            libc::close(fd);
            if usize::try_from(written).ok() != Some(bytes.len()) {
                return Err(());
            }
        }
    }
    Ok(())
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
    /// Watches the started child `pid` through `pidfd` (registered with the reactor).
    fn watch(pid: i32, pidfd: OwnedFd) -> Result<Child, SpawnError> {
        // SAFETY: the AsyncFd owns `pidfd`, which stays open and the same until it is dropped.
        let pidfd =
            unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }
                .map_err(|e| {
                    // Not watched: killed and reaped here (a killed child ends at once).
                    let (pidfd, cause) = e.into_parts();
                    let _ =
                        rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
                    let _ = rustix::process::waitid(
                        rustix::process::WaitId::PidFd(pidfd.as_fd()),
                        rustix::process::WaitIdOptions::EXITED,
                    );
                    SpawnError::Host(cause)
                })?;
        Ok(Child {
            pid,
            pidfd,
            reaped: false,
        })
    }

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
