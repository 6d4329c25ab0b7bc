//! The seccomp filter of a confined command: what Landlock cannot refuse.
//!
//! Landlock decides on opening, creating, renaming and removing files, on TCP and on signals;
//! it has no say over a file's metadata, over other processes' limits, over System V IPC or
//! over sockets named in the filesystem. So a confined command's system calls are also
//! filtered (built here in the host, installed in the child before `execve`):
//!
//! | refused | with | why |
//! |---|---|---|
//! | another architecture or ABI (i386 `int 0x80`, x32) | `EACCES` | the filter could be walked around |
//! | `io_uring_setup` | `EACCES` | opens sockets and files without the system calls below |
//! | `setsid`, `setpgid` | `EPERM` | every process of the command stays in its group, killed as one |
//! | `clone` with `CLONE_PARENT`, `clone3` (`ENOSYS`: the C library falls back to `clone`) | `EPERM` | a process made a child of the host would outlive the command as the host's zombie |
//! | `chmod`, `fchmod`, `fchmodat`, `fchmodat2`, `chown`, `fchown`, `lchown`, `fchownat` | `EPERM` | modes and owners of any file the user owns, anywhere (a set-uid bit) |
//! | `utime`, `utimes`, `futimesat`, `utimensat` with times given (setting them to now stays allowed: `touch`) | `EPERM` | times of any file the user owns |
//! | `setxattr`, `lsetxattr`, `fsetxattr`, `setxattrat`, `removexattr`, `lremovexattr`, `fremovexattr`, `removexattrat` | `EPERM` | extended attributes of any file the user owns |
//! | `prlimit64`, `sched_setaffinity`, `sched_setscheduler`, `sched_setparam`, `sched_setattr` on another process; `setpriority`, `ioprio_set` on anything but the caller | `EPERM` | the limits and priority of the host and every other process of the user |
//! | System V shared memory, message queues and semaphores | `EPERM` | shared with every process of the user |
//! | POSIX message queues (`mq_*`) | `EPERM` | shared with every process of the user |
//! | `inotify_init`, `inotify_init1`, `fanotify_init` | `EACCES` | watches names and accesses anywhere (programs fall back to polling) |
//! | `keyctl`, `add_key`, `request_key` | `EACCES` | the host's session keyring (credential caches) |
//! | `clone` or `unshare` with a new namespace of any kind, `setns` | `EPERM` | user namespaces are counted per user: a command could exhaust them for the host; the others only widen what a command sees |
//! | `prctl(PR_SET_PDEATHSIG)` | `EPERM` | the death signal ties the command to the host |
//! | `ioctl` `FS_IOC_SETFLAGS`, `FS_IOC_FSSETXATTR`, `FS_IOC_SETVERSION`, `FS_IOC_ENABLE_VERITY`, `FS_IOC_SET_ENCRYPTION_POLICY`; `file_setattr` | `EPERM` | file flags (`chattr`), versions, verity, encryption of any file the command can open or name |
//! | a set-uid or set-gid bit in the mode of `openat`/`open` with `O_CREAT` or `O_TMPFILE`, `creat`, `mknod(at)`, `mkdir(at)`; `openat2` (`ENOSYS`: its mode is out of the filter's sight) | `EPERM` | a set-uid file planted for a later in-place write by the host user |
//! | `fcntl(F_SETLEASE)` | `EPERM` | a lease stalls every writer of the file, the host included |
//! | `socketpair` of any type but `SOCK_STREAM` and `SOCK_SEQPACKET` | `EACCES` | a datagram socket sends to any socket named in the filesystem |
//! | `socket` of any family, unless the command may use the network; then any but `AF_INET` and `AF_INET6` | `EACCES` | UDP, raw, packet, netlink sockets, and Unix sockets named in the filesystem (a local daemon's, a proxy's); `socketpair` stays allowed |

use libc::sock_filter;

/// `AUDIT_ARCH_X86_64`: the architecture of the system calls the filter lets through.
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e;
/// `AUDIT_ARCH_AARCH64`.
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;

const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
const ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO
const EACCES: u32 = ERRNO | libc::EACCES as u32;
const EPERM: u32 = ERRNO | libc::EPERM as u32;
const ENOSYS: u32 = ERRNO | libc::ENOSYS as u32;

/// `setxattrat` and `removexattrat` (Linux 6.13; one number on every architecture).
const SYS_SETXATTRAT: i64 = 463;
const SYS_REMOVEXATTRAT: i64 = 466;

/// `CLONE_NEWTIME` (for `unshare`; not in every libc).
const CLONE_NEWTIME: u32 = 0x80;

/// `FS_IOC_SETFLAGS` (`_IOW('f', 2, long)`), its 32-bit form, and `FS_IOC_FSSETXATTR`.
const FS_IOC_SETFLAGS: u32 = 0x4008_6602;
const FS_IOC32_SETFLAGS: u32 = 0x4004_6602;
const FS_IOC_FSSETXATTR: u32 = 0x401c_5820;
/// `FS_IOC_SETVERSION` (`_IOW('v', 2, long)`) and its 32-bit form.
const FS_IOC_SETVERSION: u32 = 0x4008_7602;
const FS_IOC32_SETVERSION: u32 = 0x4004_7602;
/// `FS_IOC_ENABLE_VERITY` and `FS_IOC_SET_ENCRYPTION_POLICY`.
const FS_IOC_ENABLE_VERITY: u32 = 0x4080_6685;
const FS_IOC_SET_ENCRYPTION_POLICY: u32 = 0x800c_6613;
/// `file_setattr` (Linux 6.17; one number on every architecture).
const SYS_FILE_SETATTR: i64 = 469;
/// `__O_TMPFILE`, the bit of `O_TMPFILE` that is not `O_DIRECTORY`.
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

/// `seccomp_data`: the system call number, the architecture, the arguments.
const NR: u32 = 0;
const ARCH: u32 = 4;

/// Offset of the low 32 bits of argument `i` (little-endian).
const fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

/// Offset of the high 32 bits of argument `i`.
const fn arg_high(i: u32) -> u32 {
    20 + 8 * i
}

fn op(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// A system call number as the filter compares it.
fn nr(call: i64) -> u32 {
    call as u32
}

/// Builds a filter from blocks that each test the system call number (loaded in the
/// accumulator) and either return or fall through to the next block with it reloaded.
struct Program(Vec<sock_filter>);

impl Program {
    /// `call` returns `ret`.
    fn refuse(&mut self, call: i64, ret: u32) {
        self.0.push(op(JEQ, 0, 1, nr(call)));
        self.0.push(op(RET, 0, 0, ret));
    }

    /// `call` is allowed when each (offset, value) of `equal` holds, else returns `ret`.
    fn allow_only_if(&mut self, call: i64, equal: &[(u32, u32)], ret: u32) {
        let n = equal.len() as u8;
        // JEQ nr; then a load and a test per condition; ALLOW; ret.
        self.0.push(op(JEQ, 0, 2 * n + 2, nr(call)));
        for (i, (offset, value)) in equal.iter().enumerate() {
            let left = n - i as u8 - 1;
            self.0.push(op(LD_W_ABS, 0, 0, *offset));
            // Equal: on to the next test (or ALLOW); else to `ret`.
            self.0.push(op(JEQ, 0, 2 * left + 1, *value));
        }
        self.0.push(op(RET, 0, 0, ALLOW));
        self.0.push(op(RET, 0, 0, ret));
    }

    /// `call` returns `matched` when the argument word at `offset` (masked with `mask`, when
    /// given) is one of `values`, else `otherwise`.
    fn one_of(
        &mut self,
        call: i64,
        (offset, mask): (u32, Option<u32>),
        values: &[u32],
        (matched, otherwise): (u32, u32),
    ) {
        let n = values.len() as u8;
        let masked = u8::from(mask.is_some());
        self.0.push(op(JEQ, 0, n + 3 + masked, nr(call)));
        self.0.push(op(LD_W_ABS, 0, 0, offset));
        if let Some(mask) = mask {
            self.0.push(op(AND, 0, 0, mask));
        }
        for (i, value) in values.iter().enumerate() {
            self.0.push(op(JEQ, n - i as u8, 0, *value));
        }
        self.0.push(op(RET, 0, 0, otherwise));
        self.0.push(op(RET, 0, 0, matched));
    }

    /// `call` returns `ret` when the argument word at `flags` has a bit of `flag_mask` and
    /// the one at `mode` a bit of `mode_mask` (a mode that is read only with some flags).
    fn refuse_if_both_set(
        &mut self,
        call: i64,
        (flags, flag_mask): (u32, u32),
        (mode, mode_mask): (u32, u32),
        ret: u32,
    ) {
        self.0.push(op(JEQ, 0, 6, nr(call)));
        self.0.push(op(LD_W_ABS, 0, 0, flags));
        self.0.push(op(JSET, 0, 3, flag_mask));
        self.0.push(op(LD_W_ABS, 0, 0, mode));
        self.0.push(op(JSET, 0, 1, mode_mask));
        self.0.push(op(RET, 0, 0, ret));
        self.0.push(op(RET, 0, 0, ALLOW));
    }

    /// `call` returns `ret` when argument word at `offset` has any bit of `mask`.
    fn refuse_if_set(&mut self, call: i64, offset: u32, mask: u32, ret: u32) {
        self.0.push(op(JEQ, 0, 4, nr(call)));
        self.0.push(op(LD_W_ABS, 0, 0, offset));
        self.0.push(op(JSET, 0, 1, mask));
        self.0.push(op(RET, 0, 0, ret));
        self.0.push(op(RET, 0, 0, ALLOW));
    }
}

/// The filter of a command (see the module docs); `network`: it may open sockets.
pub fn filter(network: bool) -> Vec<sock_filter> {
    let mut p = Program(Vec::with_capacity(128));
    p.0.push(op(LD_W_ABS, 0, 0, ARCH));
    p.0.push(op(JEQ, 1, 0, NATIVE_ARCH));
    p.0.push(op(RET, 0, 0, EACCES));
    p.0.push(op(LD_W_ABS, 0, 0, NR));
    #[cfg(target_arch = "x86_64")]
    {
        const X32: u32 = 0x4000_0000;
        p.0.push(op(JGE, 0, 1, X32));
        p.0.push(op(RET, 0, 0, EACCES));
    }
    for call in [
        libc::SYS_io_uring_setup,
        libc::SYS_inotify_init1,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_inotify_init,
        libc::SYS_fanotify_init,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
    ] {
        p.refuse(call, EACCES);
    }
    for call in [
        libc::SYS_setsid,
        libc::SYS_setpgid,
        libc::SYS_fchmod,
        libc::SYS_fchmodat,
        libc::SYS_fchmodat2,
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_setxattr,
        libc::SYS_lsetxattr,
        libc::SYS_fsetxattr,
        SYS_SETXATTRAT,
        libc::SYS_removexattr,
        libc::SYS_lremovexattr,
        libc::SYS_fremovexattr,
        SYS_REMOVEXATTRAT,
        libc::SYS_shmget,
        libc::SYS_shmat,
        libc::SYS_shmctl,
        libc::SYS_msgget,
        libc::SYS_msgsnd,
        libc::SYS_msgrcv,
        libc::SYS_msgctl,
        libc::SYS_semget,
        libc::SYS_semop,
        libc::SYS_semtimedop,
        libc::SYS_semctl,
        libc::SYS_mq_open,
        libc::SYS_mq_unlink,
        libc::SYS_mq_timedsend,
        libc::SYS_mq_timedreceive,
        libc::SYS_mq_notify,
        libc::SYS_mq_getsetattr,
        libc::SYS_setns,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chmod,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chown,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_lchown,
    ] {
        p.refuse(call, EPERM);
    }
    p.refuse(libc::SYS_clone3, ENOSYS);
    // clone's flags are its first argument on both architectures. New namespaces of any
    // kind are refused: a user namespace is a counted resource of the user (and the host
    // needs one per command), the others would only widen what a command sees.
    let namespaces = (libc::CLONE_NEWNS
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET) as u32;
    p.refuse_if_set(
        libc::SYS_clone,
        arg_low(0),
        libc::CLONE_PARENT as u32 | namespaces,
        EPERM,
    );
    p.refuse_if_set(
        libc::SYS_unshare,
        arg_low(0),
        namespaces | CLONE_NEWTIME,
        EPERM,
    );
    // The death signal ties a command to the host: it may not be cleared or changed.
    p.one_of(
        libc::SYS_prctl,
        (arg_low(0), None),
        &[libc::PR_SET_PDEATHSIG as u32],
        (EPERM, ALLOW),
    );
    // File flags (`chattr`), versions, verity and encryption policies: metadata like a mode,
    // on any file the command can open (or, for `file_setattr`, name).
    p.one_of(
        libc::SYS_ioctl,
        (arg_low(1), None),
        &[
            FS_IOC_SETFLAGS,
            FS_IOC32_SETFLAGS,
            FS_IOC_FSSETXATTR,
            FS_IOC_SETVERSION,
            FS_IOC32_SETVERSION,
            FS_IOC_ENABLE_VERITY,
            FS_IOC_SET_ENCRYPTION_POLICY,
        ],
        (EPERM, ALLOW),
    );
    p.refuse(SYS_FILE_SETATTR, EPERM);
    // A lease stalls whoever opens the file to write it, the host included.
    p.one_of(
        libc::SYS_fcntl,
        (arg_low(1), None),
        &[libc::F_SETLEASE as u32],
        (EPERM, ALLOW),
    );
    // No set-uid or set-gid bit at creation either (a mode read only with O_CREAT or
    // O_TMPFILE); `openat2` carries its mode in a structure the filter cannot read.
    let creating = (libc::O_CREAT | O_TMPFILE_BIT) as u32;
    let set_id = 0o6000;
    p.refuse_if_both_set(
        libc::SYS_openat,
        (arg_low(2), creating),
        (arg_low(3), set_id),
        EPERM,
    );
    p.refuse(libc::SYS_openat2, ENOSYS);
    p.refuse_if_set(libc::SYS_mknodat, arg_low(2), set_id, EPERM);
    p.refuse_if_set(libc::SYS_mkdirat, arg_low(2), set_id, EPERM);
    #[cfg(target_arch = "x86_64")]
    {
        p.refuse_if_both_set(
            libc::SYS_open,
            (arg_low(1), creating),
            (arg_low(2), set_id),
            EPERM,
        );
        p.refuse_if_set(libc::SYS_creat, arg_low(1), set_id, EPERM);
        p.refuse_if_set(libc::SYS_mknod, arg_low(1), set_id, EPERM);
        p.refuse_if_set(libc::SYS_mkdir, arg_low(1), set_id, EPERM);
    }
    // A pair of Unix sockets of a connection type only: a datagram one can send to any
    // socket named in the filesystem (`/dev/log`, a daemon's control socket).
    p.one_of(
        libc::SYS_socketpair,
        (arg_low(1), Some(0xf)),
        &[libc::SOCK_STREAM as u32, libc::SOCK_SEQPACKET as u32],
        (ALLOW, EACCES),
    );
    // Times set to now (a null `times`) need only write access; anything else is refused.
    let null = |i: u32| [(arg_low(i), 0), (arg_high(i), 0)];
    p.allow_only_if(libc::SYS_utimensat, &null(2), EPERM);
    #[cfg(target_arch = "x86_64")]
    {
        p.allow_only_if(libc::SYS_futimesat, &null(2), EPERM);
        p.allow_only_if(libc::SYS_utimes, &null(1), EPERM);
        p.allow_only_if(libc::SYS_utime, &null(1), EPERM);
    }
    // Only the caller itself (pid 0).
    for call in [
        libc::SYS_prlimit64,
        libc::SYS_sched_setaffinity,
        libc::SYS_sched_setscheduler,
        libc::SYS_sched_setparam,
        libc::SYS_sched_setattr,
    ] {
        p.allow_only_if(call, &[(arg_low(0), 0)], EPERM);
    }
    // `which` PRIO_PROCESS (0) / IOPRIO_WHO_PROCESS (1), `who` 0.
    p.allow_only_if(
        libc::SYS_setpriority,
        &[(arg_low(0), 0), (arg_low(1), 0)],
        EPERM,
    );
    p.allow_only_if(
        libc::SYS_ioprio_set,
        &[(arg_low(0), 1), (arg_low(1), 0)],
        EPERM,
    );
    if network {
        // The network, and nothing else: Unix sockets named in the filesystem (a local
        // daemon's), netlink, packet sockets stay refused.
        p.one_of(
            libc::SYS_socket,
            (arg_low(0), None),
            &[libc::AF_INET as u32, libc::AF_INET6 as u32],
            (ALLOW, EACCES),
        );
    } else {
        p.refuse(libc::SYS_socket, EACCES);
    }
    p.0.push(op(RET, 0, 0, ALLOW));
    p.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter program over `data` as the kernel would (classic BPF, the subset used).
    fn run(program: &[sock_filter], data: &[u32; 16]) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = program[pc];
            match i.code {
                LD_W_ABS => acc = data[i.k as usize / 4],
                AND => acc &= i.k,
                JEQ | JGE | JSET => {
                    let taken = match i.code {
                        JEQ => acc == i.k,
                        JGE => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                RET => return i.k,
                other => panic!("unexpected op {other}"),
            }
            pc += 1;
        }
    }

    fn call(number: i64, args: &[u64]) -> [u32; 16] {
        let mut data = [0u32; 16];
        data[0] = number as u32;
        data[1] = NATIVE_ARCH;
        for (i, a) in args.iter().enumerate() {
            data[4 + 2 * i] = *a as u32;
            data[5 + 2 * i] = (*a >> 32) as u32;
        }
        data
    }

    #[test]
    fn each_rule_refuses_what_it_names_and_lets_the_rest_through() {
        let offline = filter(false);
        let online = filter(true);
        let f = |p: &[sock_filter], n: i64, args: &[u64]| run(p, &call(n, args));
        assert_eq!(f(&offline, libc::SYS_read, &[]), ALLOW);
        assert_eq!(f(&offline, libc::SYS_setsid, &[]), EPERM);
        assert_eq!(f(&offline, libc::SYS_fchmodat, &[0, 0, 0o4755]), EPERM);
        assert_eq!(f(&offline, libc::SYS_utimensat, &[0, 1, 0, 0]), ALLOW);
        assert_eq!(
            f(&offline, libc::SYS_utimensat, &[0, 1, 0x7fff_0000_1000, 0]),
            EPERM
        );
        assert_eq!(f(&offline, libc::SYS_utimensat, &[0, 1, 0x1000, 0]), EPERM);
        assert_eq!(f(&offline, libc::SYS_prlimit64, &[0, 7]), ALLOW);
        assert_eq!(f(&offline, libc::SYS_prlimit64, &[1234, 7]), EPERM);
        assert_eq!(f(&offline, libc::SYS_setpriority, &[0, 0, 5]), ALLOW);
        assert_eq!(f(&offline, libc::SYS_setpriority, &[2, 0, 5]), EPERM);
        assert_eq!(f(&offline, libc::SYS_setpriority, &[0, 99, 5]), EPERM);
        assert_eq!(f(&offline, libc::SYS_ioprio_set, &[1, 0, 4]), ALLOW);
        assert_eq!(f(&offline, libc::SYS_ioprio_set, &[3, 0, 4]), EPERM);
        assert_eq!(f(&offline, libc::SYS_clone, &[libc::SIGCHLD as u64]), ALLOW);
        let parent = (libc::CLONE_PARENT | libc::SIGCHLD) as u64;
        assert_eq!(f(&offline, libc::SYS_clone, &[parent]), EPERM);
        assert_eq!(f(&offline, libc::SYS_clone3, &[]), ENOSYS);
        assert_eq!(
            f(&offline, libc::SYS_socket, &[libc::AF_UNIX as u64]),
            EACCES
        );
        assert_eq!(f(&online, libc::SYS_socket, &[libc::AF_INET as u64]), ALLOW);
        assert_eq!(
            f(&online, libc::SYS_socket, &[libc::AF_INET6 as u64]),
            ALLOW
        );
        assert_eq!(
            f(&online, libc::SYS_socket, &[libc::AF_UNIX as u64]),
            EACCES
        );
        assert_eq!(
            f(&online, libc::SYS_socket, &[libc::AF_NETLINK as u64]),
            EACCES
        );
        assert_eq!(
            f(
                &offline,
                libc::SYS_prctl,
                &[libc::PR_SET_PDEATHSIG as u64, 0]
            ),
            EPERM
        );
        assert_eq!(
            f(&offline, libc::SYS_prctl, &[libc::PR_SET_NAME as u64, 0]),
            ALLOW
        );
        assert_eq!(
            f(&offline, libc::SYS_ioctl, &[3, FS_IOC_SETFLAGS as u64]),
            EPERM
        );
        assert_eq!(
            f(&offline, libc::SYS_ioctl, &[3, 0x5401 /* TCGETS */]),
            ALLOW
        );
        let new_user = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
        assert_eq!(f(&offline, libc::SYS_clone, &[new_user]), EPERM);
        assert_eq!(
            f(&offline, libc::SYS_unshare, &[libc::CLONE_NEWNS as u64]),
            EPERM
        );
        assert_eq!(
            f(&offline, libc::SYS_unshare, &[libc::CLONE_FILES as u64]),
            ALLOW
        );
        assert_eq!(f(&offline, libc::SYS_keyctl, &[]), EACCES);
        assert_eq!(f(&offline, libc::SYS_mq_open, &[]), EPERM);
        assert_eq!(f(&offline, libc::SYS_fanotify_init, &[]), EACCES);
        let (creat, rdonly) = (libc::O_CREAT as u64, libc::O_RDONLY as u64);
        assert_eq!(f(&offline, libc::SYS_openat, &[0, 1, creat, 0o4755]), EPERM);
        assert_eq!(f(&offline, libc::SYS_openat, &[0, 1, creat, 0o755]), ALLOW);
        // Without O_CREAT the mode is not read (whatever the register holds).
        assert_eq!(
            f(&offline, libc::SYS_openat, &[0, 1, rdonly, 0o4755]),
            ALLOW
        );
        let tmpfile = libc::O_TMPFILE as u64 | libc::O_RDWR as u64;
        assert_eq!(
            f(&offline, libc::SYS_openat, &[0, 1, tmpfile, 0o2755]),
            EPERM
        );
        assert_eq!(f(&offline, libc::SYS_mkdirat, &[0, 1, 0o2775]), EPERM);
        assert_eq!(f(&offline, libc::SYS_mkdirat, &[0, 1, 0o1777]), ALLOW);
        assert_eq!(f(&offline, libc::SYS_openat2, &[]), ENOSYS);
        assert_eq!(f(&offline, SYS_FILE_SETATTR, &[]), EPERM);
        assert_eq!(
            f(&offline, libc::SYS_fcntl, &[3, libc::F_SETLEASE as u64]),
            EPERM
        );
        assert_eq!(
            f(&offline, libc::SYS_fcntl, &[3, libc::F_GETFL as u64]),
            ALLOW
        );
        let pair = |t: i32| [libc::AF_UNIX as u64, t as u64];
        assert_eq!(
            f(&offline, libc::SYS_socketpair, &pair(libc::SOCK_STREAM)),
            ALLOW
        );
        let cloexec = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
        assert_eq!(f(&offline, libc::SYS_socketpair, &pair(cloexec)), ALLOW);
        assert_eq!(
            f(&offline, libc::SYS_socketpair, &pair(libc::SOCK_DGRAM)),
            EACCES
        );
        assert_eq!(f(&online, libc::SYS_shmget, &[]), EPERM);
        let mut foreign = call(libc::SYS_read, &[]);
        foreign[1] = 0x4000_0003; // AUDIT_ARCH_I386
        assert_eq!(run(&offline, &foreign), EACCES);
    }
}
