//! One journaled primitive call.

/// A primitive call of a process and the result its guest was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The process.
    pub pid: u64,
    /// Its number among the process's calls, from 1, without gaps.
    pub seq: u64,
    /// The interface (`libos:runtime/fs`, `wasi:clocks/wall-clock`).
    pub interface: String,
    /// The function (`read`, `now`).
    pub function: String,
    /// SHA-256 of the call's arguments: a replayed call must match it.
    pub args_digest: [u8; 32],
    /// The result as the guest received it (encoded by the caller).
    pub result: Vec<u8>,
}
