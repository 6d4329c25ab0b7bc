//! What a confined command may not keep besides files: the host user's capabilities (a host
//! running as root would hand a command `CAP_NET_ADMIN`, `CAP_SYS_ADMIN`, …, which reach
//! the host outside Landlock: addresses, routes, the hostname) and network sockets Landlock
//! cannot refuse (UDP, raw and packet sockets, netlink).
//!
//! Applied in the child between its start and `exec`, with system calls only: every capability
//! is dropped from the bounding, ambient, inheritable, permitted and effective sets (so the
//! `exec` of any program, set-uid or run as root, gains none), and a seccomp filter refuses
//! `io_uring` (which can open sockets without the `socket` system call), system calls of
//! another architecture or ABI (x32, i386 through `int 0x80`), leaving the command's process
//! group (`setsid`, `setpgid`: a daemon would outlive the command's end and its timeout) and,
//! unless the command may use the network, every socket but a Unix one.

use std::io;

/// `AUDIT_ARCH_X86_64`: the architecture of the system calls the filter lets through.
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e;
/// `AUDIT_ARCH_AARCH64`.
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7;

/// Drops every capability and installs the seccomp filter (refusing network sockets unless
/// `network`).
///
/// # Safety
/// Call only in a command's child before `exec`: it makes system calls and nothing else.
pub unsafe fn drop_in_child(network: bool) -> io::Result<()> {
    // SAFETY: prctl calls with integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for cap in 0..64 {
            // EINVAL past the kernel's last capability; EPERM without CAP_SETPCAP, where
            // the process has no capability to drop (checked below).
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
    }
    let mut header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let empty = [CapData::default(); 2];
    // SAFETY: capset reads a valid header and two data structs (version 3).
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, empty.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // Fail closed: no capability may be left in the bounding set (an `exec` as root would
    // regain it).
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        let held = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
        if held > 0 {
            // No allocation here (the child shares the host's memory): a plain errno.
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
    }
    filter(network)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Installs the seccomp filter: a system call of another architecture or ABI and
/// `io_uring_setup` are refused with `EACCES`; `setsid` and `setpgid` with `EPERM` (every
/// process of the command stays in the command's group, which is killed as one when the
/// command ends or times out); unless `network`, a socket of any family but Unix with `EACCES`.
fn filter(network: bool) -> io::Result<()> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    const ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO
    const DENY: u32 = ERRNO | libc::EACCES as u32;
    const STAY: u32 = ERRNO | libc::EPERM as u32;
    const X32: u32 = 0x4000_0000;
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    // With the network, a socket call goes straight to ALLOW (10).
    let socket = if network {
        op(JEQ, 2, 2, libc::SYS_socket as u32)
    } else {
        op(JEQ, 0, 2, libc::SYS_socket as u32) // socket -> 8, else -> 10
    };
    // seccomp_data: nr at 0, arch at 4, args[0] (low half, little-endian) at 16.
    let program = [
        /* 0 */ op(LD_W_ABS, 0, 0, 4),
        /* 1 */ op(JEQ, 0, 9, NATIVE_ARCH), // another architecture -> 11
        /* 2 */ op(LD_W_ABS, 0, 0, 0),
        /* 3 */ op(JGE, 7, 0, X32), // x32 ABI -> 11
        /* 4 */ op(JEQ, 6, 0, libc::SYS_io_uring_setup as u32), // -> 11
        /* 5 */ op(JEQ, 6, 0, libc::SYS_setsid as u32), // -> 12
        /* 6 */ op(JEQ, 5, 0, libc::SYS_setpgid as u32), // -> 12
        /* 7 */ socket,
        /* 8 */ op(LD_W_ABS, 0, 0, 16),
        /* 9 */ op(JEQ, 0, 1, libc::AF_UNIX as u32), // Unix -> 10, else -> 11
        /* 10 */ op(RET, 0, 0, ALLOW),
        /* 11 */ op(RET, 0, 0, DENY),
        /* 12 */ op(RET, 0, 0, STAY),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: the program outlives the call; the kernel copies it. `PR_SET_NO_NEW_PRIVS` was
    // set before, as an unprivileged filter requires.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
