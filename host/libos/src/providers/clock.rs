//! The clock provider behind `libos:runtime/clock` and the WASI clocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time for guests.
pub trait Clock: Send + Sync {
    /// Wall-clock time as a duration since the Unix epoch.
    fn now(&self) -> Duration;
    /// Nanoseconds on a monotonic clock.
    fn monotonic(&self) -> u64;
}

/// The host's real clocks.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }

    fn monotonic(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A deterministic clock: wall time is fixed, the monotonic clock advances by a fixed step
/// on every reading. Two runs of the same guest see the same times.
#[derive(Debug)]
pub struct FixedClock {
    wall: Duration,
    step_ns: u64,
    ticks: AtomicU64,
}

impl FixedClock {
    /// A clock reading `wall` forever, with a monotonic clock advancing `step_ns` per read.
    pub fn new(wall: Duration, step_ns: u64) -> Self {
        FixedClock {
            wall,
            step_ns,
            ticks: AtomicU64::new(0),
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Duration {
        self.wall
    }

    fn monotonic(&self) -> u64 {
        self.ticks
            .fetch_add(1, Ordering::Relaxed)
            .saturating_mul(self.step_ns)
    }
}
