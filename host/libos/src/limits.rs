//! Resource limits of one call: fuel, wall clock, memory and output size.

use std::time::Duration;

/// Limits every call runs under. Exceeding one ends the call with
/// `limit-exceeded(fuel|time|memory|output)`; the host and other calls are unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel budget (roughly, WebAssembly instructions executed).
    pub fuel: u64,
    /// Wall-clock deadline for the whole call.
    pub timeout: Duration,
    /// Cap on the component's linear memory, in bytes (per memory).
    pub max_memory: usize,
    /// Cap on table elements (per table).
    pub max_table_elements: usize,
    /// Cap on the size of the result returned by `invoke`, in bytes.
    pub max_output: usize,
    /// Cap on the bytes one `fs.read` may return and one `fs.write` may store.
    pub max_io: usize,
    /// Cap on captured log, stdout and stderr, in bytes each; the rest is dropped and counted.
    pub max_log: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000_000,
            timeout: Duration::from_secs(10),
            max_memory: 256 << 20,
            max_table_elements: 100_000,
            max_output: 1 << 20,
            max_io: 64 << 20,
            max_log: 64 << 10,
        }
    }
}
