//! What a confined command may not keep besides files: the host user's capabilities (a host
//! running as root would hand a command `CAP_NET_ADMIN`, `CAP_SYS_ADMIN`, …, which reach
//! the host outside Landlock: addresses, routes, the hostname) and network sockets Landlock
//! cannot refuse (UDP, raw and packet sockets, netlink).
//!
//! Applied in the child between its start and `exec`, with system calls only: every capability
//! is dropped from the bounding, ambient, inheritable, permitted and effective sets (so the
//! `exec` of any program, set-uid or run as root, gains none), and the seccomp filter of
//! `seccomp.rs` is installed.

use std::io;

/// Drops every capability and installs the seccomp `filter`.
///
/// # Safety
/// Call only in a command's child before `exec`: it makes system calls and nothing else.
pub unsafe fn drop_in_child(filter: &[libc::sock_filter]) -> io::Result<()> {
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
    // Fail closed: for a command running as root, no capability may be left in the bounding
    // set (an `exec` as root would regain it). Any other user gains none back from it: with
    // `no_new_privs`, no set-uid program or file capability takes effect.
    // SAFETY: getuid/geteuid take nothing.
    let root = unsafe { libc::getuid() == 0 || libc::geteuid() == 0 };
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        let held = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
        if root && held > 0 {
            // No allocation here (the child shares the host's memory): a plain errno.
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
    }
    install(filter)
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

/// Installs `filter` (built by `seccomp.rs` in the host).
fn install(filter: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        filter: filter.as_ptr().cast_mut(),
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
