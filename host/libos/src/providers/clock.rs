//! The clock provider behind `libos:runtime/clock` and the WASI clocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of time for guests.
pub trait Clock: Send + Sync {
    /// Wall-clock time as a duration since the Unix epoch.
    fn now(&self) -> Duration;
    /// Nanoseconds on a monotonic clock.
    fn monotonic(&self) -> u64;
    /// How long a sleeper may wait before it reads the clock again (see [`sleep_until`]):
    /// 20 ms by default, for clocks that jump.
    fn recheck(&self) -> Duration {
        Duration::from_millis(20)
    }
}

/// Resolves once `clock` reads `wall` or later (never, for a clock that does not get there),
/// reading it again at least every [`Clock::recheck`].
pub async fn sleep_until(clock: &dyn Clock, wall: Duration) {
    loop {
        let now = clock.now();
        if now >= wall {
            return;
        }
        tokio::time::sleep((wall - now).min(clock.recheck())).await;
    }
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

    /// Once a minute: the wall clock may be set meanwhile.
    fn recheck(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// A wall clock that moves only when told ([`ManualClock::advance`], [`ManualClock::set`]):
/// for tests of long waits (a six-hour sleep in milliseconds). Its monotonic clock is the
/// wall clock's nanoseconds.
#[derive(Debug)]
pub struct ManualClock {
    wall_ns: AtomicU64,
}

impl ManualClock {
    /// A clock reading `wall` until moved.
    pub fn new(wall: Duration) -> Self {
        ManualClock {
            wall_ns: AtomicU64::new(u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX)),
        }
    }

    /// Moves the clock `by` forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.wall_ns.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `wall`.
    pub fn set(&self, wall: Duration) {
        let wall = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
        self.wall_ns.store(wall, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.wall_ns.load(Ordering::SeqCst))
    }

    fn monotonic(&self) -> u64 {
        self.wall_ns.load(Ordering::SeqCst)
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
