//! The audit clock: when a decision was made.
//!
//! Records are ordered by their `seq` (the hash chain), not by time; the timestamp tells a
//! reader *when*, to the resolution people read audit logs at. So the audit clock is the
//! kernel's coarse real-time clock where there is one: it costs a few nanoseconds instead of
//! the ~50 ns of a full clock reading on a primitive's hot path, and is exact to the kernel
//! tick (1–4 ms on Linux), like the millisecond timestamps of the Linux audit subsystem.

/// Nanoseconds since the Unix epoch, to the coarse clock's resolution; saturating, and 0 if
/// the clock reads before the epoch.
pub fn now_ns() -> i64 {
    coarse_since_epoch().map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn coarse_since_epoch() -> Option<std::time::Duration> {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(std::time::Duration::new(secs, nanos))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn coarse_since_epoch() -> Option<std::time::Duration> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::now_ns;

    #[test]
    fn reads_the_real_time_to_within_a_tick() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let ours = u128::try_from(now_ns()).unwrap_or(0);
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // The coarse clock lags the fine one by at most one kernel tick (≤ 10 ms at HZ=100).
        let tick = 10_000_000;
        assert!(
            ours + tick >= before && ours <= after,
            "{before} <= {ours} <= {after}"
        );
    }
}
