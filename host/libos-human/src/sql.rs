//! Small helpers for the queue's SQL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `at` plus `d`, saturating.
pub(crate) fn plus(at: i64, d: Duration) -> i64 {
    at.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `ns` since the epoch as RFC 3339 (UTC, milliseconds).
pub(crate) fn rfc3339(ns: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// A pid as stored (SQLite integers are signed).
pub(crate) fn key(pid: u64) -> i64 {
    i64::try_from(pid).unwrap_or(i64::MAX)
}

/// A stored pid or count back.
pub(crate) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
