//! Kernel confinement of a shell command: Landlock, `no_new_privs` and resource limits.
//!
//! The ruleset is built in the host (parent) before the command starts: execute and read on
//! the system directories a program needs ([`SYSTEM_READ`], a few files of `/etc`, never
//! all of it), read and write on the few devices in [`DEVICES`], and inside the working
//! directory exactly the trees and files [`super::rules`] computes from the process's
//! `fs.read` / `fs.write` capabilities and the policy (never the state directory). TCP bind
//! and connect are refused (Landlock ABI 4) unless the process holds `shell.network` on the
//! acting program; signals to and abstract unix sockets of processes outside the command are
//! refused (ABI 6). In the child, between its start and `exec`, [`apply_in_child`] only makes
//! system calls: resource limits, `PR_SET_NO_NEW_PRIVS`, capabilities, seccomp,
//! `landlock_restrict_self`.
//!
//! Where the kernel cannot enforce this (no Landlock, or an ABI below [`FS_ABI`], or below
//! [`NETWORK_ABI`] for a command that may not use the network), [`case`] says the command is
//! refused unless the process holds a `shell.unconfined` the policy permits.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, Ruleset,
    RulesetAttr, RulesetCreatedAttr, Scope,
};

use super::rules::{Plan, Rule};

/// The lowest Landlock ABI that confines the filesystem fully (ABI 3 controls truncation).
pub const FS_ABI: u8 = 3;

/// The lowest Landlock ABI that can refuse TCP bind and connect.
pub const NETWORK_ABI: u8 = 4;

/// The lowest Landlock ABI that scopes signals and abstract unix sockets.
pub const SCOPE_ABI: u8 = 6;

/// The newest ABI whose rights the rulesets use (later ABIs add only logging).
const NEWEST_USED: u8 = 6;

/// Directories a command may execute and read (all of them), when they exist.
pub const SYSTEM_READ: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// Files and directories of `/etc` a command may read: the loader's cache, name service,
/// users and groups, time zone, resolver and certificates, alternatives. Not the rest of
/// `/etc` (`/etc/shadow` stays unreadable).
pub const ETC_READ: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/magic",
    "/etc/terminfo",
    "/etc/gitconfig",
];

/// Devices a command may use: read, and write where the flag says so.
pub const DEVICES: &[(&str, bool)] = &[
    ("/dev/null", true),
    ("/dev/zero", false),
    ("/dev/full", true),
    ("/dev/random", false),
    ("/dev/urandom", false),
];

/// Most processes the user may have while a command runs (a brake on fork bombs; the
/// kernel does not apply it to root).
pub const MAX_PROCESSES: u64 = 4096;

/// Most open files per process of a command (a brake on filling the system's file table).
pub const MAX_OPEN_FILES: u64 = 1024;

/// The newest ABI the probe may report (see [`limit_abi`]).
static ABI_LIMIT: AtomicU8 = AtomicU8::new(u8::MAX);

/// Makes [`kernel_abi`] report at most `abi` in this process from now on, as on an older
/// kernel (a test simulates one). It never reports more than the kernel has.
pub fn limit_abi(abi: u8) {
    ABI_LIMIT.store(abi, Ordering::SeqCst);
}

/// The Landlock ABI of the running kernel (0: no Landlock), at most the [`limit_abi`].
pub fn kernel_abi() -> u8 {
    static PROBED: OnceLock<u8> = OnceLock::new();
    let probed = *PROBED.get_or_init(|| {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: the version query reads no memory (null attributes, size 0).
        let n = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        u8::try_from(n.max(0)).unwrap_or(u8::MAX)
    });
    probed.min(ABI_LIMIT.load(Ordering::SeqCst))
}

/// How a command runs, for a kernel with Landlock ABI `abi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Case {
    /// Confined under this ABI.
    Confined { abi: u8 },
    /// Not confined: the kernel cannot, and the process holds `shell.unconfined`.
    Unconfined { why_not: String },
    /// Refused: the kernel cannot confine it and the process may not run it unconfined.
    Refused { why_not: String },
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Case::Confined { abi } => write!(f, "confined under Landlock ABI {abi}"),
            Case::Unconfined { why_not } => write!(
                f,
                "unconfined by shell.unconfined ({why_not}): the command has the host user's \
                 whole filesystem and network"
            ),
            Case::Refused { why_not } => write!(
                f,
                "refused: {why_not}, and running it unconfined needs shell.unconfined"
            ),
        }
    }
}

/// What a kernel with ABI `abi` cannot enforce for a command (that may use the network when
/// `network` is set), if anything.
pub fn lacking(abi: u8, network: bool) -> Option<String> {
    if abi == 0 {
        Some("the kernel has no Landlock".into())
    } else if abi < FS_ABI {
        Some(format!(
            "Landlock ABI {abi} cannot refuse truncating files (ABI {FS_ABI} can)"
        ))
    } else if !network && abi < NETWORK_ABI {
        Some(format!(
            "Landlock ABI {abi} cannot refuse TCP connections (ABI {NETWORK_ABI} can), and the \
             command holds no shell.network"
        ))
    } else {
        None
    }
}

/// How a command runs: under Landlock when the kernel can enforce what it needs, else
/// unconfined if `unconfined` (the process holds a `shell.unconfined` the policy permits),
/// else refused.
pub fn case(abi: u8, network: bool, unconfined: bool) -> Case {
    match lacking(abi, network) {
        None => Case::Confined { abi },
        Some(why_not) if unconfined => Case::Unconfined { why_not },
        Some(why_not) => Case::Refused { why_not },
    }
}

/// Why a ruleset could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// The kernel or the crate refused the ruleset.
    #[error("cannot build the Landlock ruleset: {0}")]
    Ruleset(#[from] landlock::RulesetError),
    /// The kernel gave no ruleset (it has no Landlock after all).
    #[error("the kernel gave no Landlock ruleset")]
    NoRuleset,
}

/// Per-command resource limits (`RLIMIT_*`), applied in the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildLimits {
    /// CPU seconds (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Largest file it may write, in bytes (`RLIMIT_FSIZE`).
    pub file_bytes: u64,
    /// Address space, in bytes (`RLIMIT_AS`).
    pub address_space: u64,
    /// Processes of the user (`RLIMIT_NPROC`).
    pub processes: u64,
    /// Whether it may open network sockets (else only Unix ones: `privileges.rs`).
    pub network: bool,
}

impl ChildLimits {
    /// The limits of a command that may run `timeout` within a call limited by `limits`.
    pub fn of(limits: &crate::limits::Limits, timeout: std::time::Duration) -> ChildLimits {
        let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        ChildLimits {
            cpu_seconds: timeout.as_secs().saturating_add(1),
            file_bytes: as_u64(limits.max_io),
            address_space: as_u64(limits.max_memory),
            processes: MAX_PROCESSES,
            network: false,
        }
    }
}

/// What the working directory grants a command: the rules for reading and for writing.
pub struct Workdir<'a> {
    /// Its canonical path.
    pub root: &'a Path,
    /// `fs.read`.
    pub read: &'a Plan,
    /// `fs.write`.
    pub write: &'a Plan,
    /// The state directory (canonical): no rule ever names it, a path in it, or a parent.
    pub state: &'a Path,
}

/// A ruleset built for one command, with its limits and seccomp filter, to apply in its
/// child.
pub struct Confinement {
    fd: OwnedFd,
    limits: ChildLimits,
    filter: Vec<libc::sock_filter>,
}

impl std::fmt::Debug for Confinement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confinement")
            .field("fd", &self.fd)
            .field("limits", &self.limits)
            .field("filter_len", &self.filter.len())
            .finish()
    }
}

impl Confinement {
    /// Builds the ruleset for a kernel with ABI `abi` (at least [`FS_ABI`]); TCP is refused
    /// unless `network`.
    ///
    /// # Errors
    /// [`ConfineError`] when the kernel refuses the ruleset.
    pub fn build(
        abi: u8,
        workdir: &Workdir<'_>,
        network: bool,
        limits: ChildLimits,
    ) -> Result<Confinement, ConfineError> {
        let abi_used = ABI::from(i32::from(abi.min(NEWEST_USED)));
        let all = AccessFs::from_all(abi_used);
        let read = AccessFs::from_read(abi_used);
        let file = AccessFs::from_file(abi_used);
        let write = AccessFs::from_write(abi_used) & !(AccessFs::MakeChar | AccessFs::MakeBlock);
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(all)?;
        if !network && abi >= NETWORK_ABI {
            ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
        }
        if abi >= SCOPE_ABI {
            ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
        }
        let mut created = ruleset.create()?;
        for system in system_paths() {
            // A state directory placed under a system directory keeps that directory out
            // (fail closed: programs from it then cannot run).
            if workdir.state.starts_with(&system.canonical) {
                continue;
            }
            let access = if system.dir { read } else { read & file };
            created = created.add_rule(PathBeneath::new(&system.fd, access))?;
        }
        for (device, writable) in DEVICES {
            if let Some(fd) = open_path(Path::new(device), true) {
                let mut access: BitFlags<AccessFs> = AccessFs::ReadFile.into();
                if *writable {
                    access |= AccessFs::WriteFile;
                }
                created = created.add_rule(PathBeneath::new(fd, access))?;
            }
        }
        let grants = [
            (workdir.read, read, read & file),
            (workdir.write, write, (write & file) | AccessFs::WriteFile),
        ];
        for (plan, tree_access, file_access) in grants {
            for rule in &plan.rules {
                let (rel, access, dir) = match rule {
                    Rule::Tree(rel) => (rel, tree_access, true),
                    Rule::File(rel) => (rel, file_access, false),
                };
                let path = if rel.is_empty() {
                    workdir.root.to_path_buf()
                } else {
                    workdir.root.join(rel)
                };
                if path.starts_with(workdir.state) || workdir.state.starts_with(&path) {
                    continue;
                }
                // Not followed, and checked to be what the walk saw: a link or a directory
                // swapped in since is not granted.
                let Some(fd) = open_path(&path, false) else {
                    continue;
                };
                if is_dir(&fd) != dir || !names(&fd, &path) {
                    continue;
                }
                created = created.add_rule(PathBeneath::new(fd, access & all))?;
            }
        }
        let fd: Option<OwnedFd> = created.into();
        Ok(Confinement {
            fd: fd.ok_or(ConfineError::NoRuleset)?,
            limits: ChildLimits { network, ..limits },
            filter: super::seccomp::filter(network),
        })
    }

    /// Applies this confinement in a command's child (see [`apply_in_child`]).
    ///
    /// # Safety
    /// As [`apply_in_child`]: only in a command's child before `exec`.
    pub unsafe fn apply(&self) -> io::Result<()> {
        // SAFETY: our caller's contract.
        unsafe { apply_in_child(self.fd.as_raw_fd(), self.limits, &self.filter) }
    }
}

/// A system directory or file every command may read, opened once per host.
struct SystemPath {
    canonical: PathBuf,
    fd: OwnedFd,
    dir: bool,
}

/// [`SYSTEM_READ`] and [`ETC_READ`], opened (`O_PATH`, links followed: `/bin` may be a link to
/// `/usr/bin`) the first time a command is confined and kept: opening and resolving them
/// for every command cost more than the rest of building its rules.
fn system_paths() -> &'static [SystemPath] {
    static OPENED: OnceLock<Vec<SystemPath>> = OnceLock::new();
    OPENED.get_or_init(|| {
        SYSTEM_READ
            .iter()
            .chain(ETC_READ)
            .filter_map(|path| {
                let fd = open_path(Path::new(path), true)?;
                let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
                let dir = is_dir(&fd);
                Some(SystemPath { canonical, fd, dir })
            })
            .collect()
    })
}

/// Opens `path` as an `O_PATH` descriptor (following a final symbolic link only when
/// `follow`), or `None` if it does not exist or cannot be opened.
fn open_path(path: &Path, follow: bool) -> Option<OwnedFd> {
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .ok()
        .map(OwnedFd::from)
}

fn is_dir(fd: &OwnedFd) -> bool {
    fstat_mode(fd).is_some_and(|m| m & libc::S_IFMT == libc::S_IFDIR)
}

fn fstat_mode(fd: &OwnedFd) -> Option<libc::mode_t> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out pointer for fstat; it is read only when fstat succeeded.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    // SAFETY: fstat filled `st` (rc == 0).
    (rc == 0).then(|| unsafe { st.assume_init() }.st_mode)
}

/// Whether `fd` is the file at `path` (no link in between was swapped).
fn names(fd: &OwnedFd, path: &Path) -> bool {
    let Ok(actual) = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
        return false;
    };
    let regular = fstat_mode(fd).is_some_and(|m| {
        let t = m & libc::S_IFMT;
        t == libc::S_IFDIR || t == libc::S_IFREG
    });
    regular && actual == path
}

/// Applies a confinement in the child, between its start and `exec`: resource limits (never
/// raising one), `PR_SET_NO_NEW_PRIVS`, every capability dropped and the seccomp filter
/// (`privileges.rs`, `filter` from `seccomp.rs`), then `landlock_restrict_self` on `fd`.
///
/// # Safety
/// Call only in a command's child before `exec` (`spawn.rs`, or a `pre_exec` hook): it makes
/// system calls only, allocates nothing, and `fd` must be the descriptor of a Landlock ruleset.
pub unsafe fn apply_in_child(
    fd: RawFd,
    limits: ChildLimits,
    filter: &[libc::sock_filter],
) -> io::Result<()> {
    let wanted = [
        (libc::RLIMIT_CPU, limits.cpu_seconds),
        (libc::RLIMIT_FSIZE, limits.file_bytes),
        (libc::RLIMIT_AS, limits.address_space),
        (libc::RLIMIT_NPROC, limits.processes),
        (libc::RLIMIT_NOFILE, MAX_OPEN_FILES),
    ];
    for (resource, value) in wanted {
        let mut now = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out pointer.
        if unsafe { libc::getrlimit(resource, &mut now) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let v = value.min(now.rlim_max);
        let new = libc::rlimit {
            rlim_cur: v,
            rlim_max: v,
        };
        // SAFETY: valid pointer to an initialized rlimit.
        if unsafe { libc::setrlimit(resource, &new) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: in the command's child, before exec (our caller's contract).
    unsafe { super::privileges::drop_in_child(filter)? };
    // SAFETY: landlock_restrict_self takes a descriptor and flags.
    if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_case_follows_what_the_kernel_can_enforce() {
        assert_eq!(case(7, false, false), Case::Confined { abi: 7 });
        assert_eq!(case(4, false, false), Case::Confined { abi: 4 });
        assert_eq!(case(3, true, false), Case::Confined { abi: 3 });
        assert!(matches!(case(3, false, false), Case::Refused { .. }));
        assert!(matches!(case(3, false, true), Case::Unconfined { .. }));
        assert!(matches!(case(2, true, false), Case::Refused { .. }));
        assert!(matches!(case(0, true, true), Case::Unconfined { .. }));
        let refused = case(0, false, false).to_string();
        assert!(refused.contains("no Landlock") && refused.contains("shell.unconfined"));
    }

    #[test]
    fn limits_come_from_the_call() {
        let limits = crate::limits::Limits::default();
        let child = ChildLimits::of(&limits, std::time::Duration::from_millis(2500));
        assert_eq!(child.cpu_seconds, 3);
        assert_eq!(child.file_bytes, limits.max_io as u64);
        assert_eq!(child.address_space, limits.max_memory as u64);
    }

    #[test]
    fn the_probe_only_lowers_the_abi() {
        let real = kernel_abi();
        limit_abi(u8::MAX);
        assert_eq!(kernel_abi(), real);
    }

    /// A child confined with a plan granting one file reads it and nothing else.
    #[test]
    fn a_confined_child_reads_only_what_it_was_granted() {
        use std::os::unix::process::CommandExt as _;
        if kernel_abi() < FS_ABI {
            return; // Nothing to try on this kernel; the shell tests cover the refusal.
        }
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("granted.txt"), "yes").unwrap();
        std::fs::write(root.join("other.txt"), "no").unwrap();
        let read = Plan {
            rules: vec![Rule::File("granted.txt".into())],
            cut_short: false,
        };
        let write = Plan::default();
        let state = Path::new("/nonexistent-state");
        let workdir = Workdir {
            root: &root,
            read: &read,
            write: &write,
            state,
        };
        let limits = ChildLimits::of(
            &crate::limits::Limits::default(),
            std::time::Duration::from_secs(5),
        );
        let confinement = Confinement::build(kernel_abi(), &workdir, false, limits).unwrap();
        let confined = |path: &Path| {
            let fd = confinement.fd.as_raw_fd();
            let (limits, filter) = (confinement.limits, confinement.filter.clone());
            let mut cmd = std::process::Command::new("/bin/cat");
            cmd.arg(path).env_clear();
            // SAFETY: apply_in_child only makes system calls.
            unsafe { cmd.pre_exec(move || apply_in_child(fd, limits, &filter)) };
            cmd.output().unwrap()
        };
        let run = |file: &str| confined(&root.join(file));
        let yes = run("granted.txt");
        assert!(yes.status.success());
        assert_eq!(yes.stdout, b"yes");
        let no = run("other.txt");
        assert!(!no.status.success());
        assert!(no.stdout.is_empty());
        let shadow = confined(Path::new("/etc/shadow"));
        assert!(!shadow.status.success() && shadow.stdout.is_empty());
    }
}
