//! Persisted events: what processes (and the host, and operators) emit by topic.
//!
//! Events live in the `process_events` table of the shared database, so an event emitted in
//! one `libos` invocation reaches processes waiting in another, and `libos events` shows them.
//! Each event has an id, increasing in emit order across every topic and every host and never
//! reused; a waiter remembers per topic the id it has seen up to. Retention bounds the table:
//! it keeps the newest [`KEPT`] events emitted by processes and operators and a topic about
//! its newest [`KEPT_PER_TOPIC`], so a flood of events (or of topics) costs bounded space.
//! The host's exit notices ([`EXIT_TOPIC`], one per process end) are bounded by the per-topic
//! rule alone and never count against [`KEPT`]: ending 100,000 processes does not push out
//! the event their siblings are still waking up to. What is dropped was seen, not waited for
//! in time, or outrun by more than [`KEPT`] newer events.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{KernelError, Result};
use crate::sql::now_ns;

/// The topic of the host's exit notices: payload `{"pid": N, "status": ...}`, source 0.
pub const EXIT_TOPIC: &str = "process.exit";

/// Events one topic keeps: it is cut back to this many by an emit on it whose id is a
/// multiple of [`TRIM_EVERY`], so it may hold a few more in between (never more than
/// [`KEPT`] in all).
pub const KEPT_PER_TOPIC: usize = 1024;

/// How often (in event ids) an emit also trims its topic.
pub const TRIM_EVERY: i64 = 16;

/// Events the table keeps over all topics but [`EXIT_TOPIC`]: cut back to this many by every
/// emit whose id is a multiple of [`TRIM_EVERY`], so it may hold up to `TRIM_EVERY - 1` more
/// in between.
pub const KEPT: usize = 16 * 1024;

/// Largest event payload, in bytes (checked by the caller before [`emit`]).
pub const MAX_PAYLOAD: usize = 64 << 10;

/// Checks that `topic` is a topic name: 1-128 characters of `[A-Za-z0-9._-]`. The error
/// says what is wrong, quoting the topic.
pub fn check_topic(topic: &str) -> std::result::Result<(), String> {
    let ok = !topic.is_empty()
        && topic.len() <= 128
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        let shown: String = topic.chars().take(80).collect();
        Err(format!(
            "topic {shown:?} is not 1-128 characters of [A-Za-z0-9._-]"
        ))
    }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// Its position: increasing in emit order over all topics, never reused.
    pub id: u64,
    /// Its topic.
    pub topic: String,
    /// JSON payload, as emitted.
    pub payload: String,
    /// The emitting process; 0 for a host or an operator.
    pub source: u64,
    /// When it was emitted, in nanoseconds since the Unix epoch.
    pub time_ns: u64,
}

/// Stores an event and applies retention; returns its id.
pub(crate) fn emit(conn: &Connection, topic: &str, payload: &str, source: u64) -> Result<u64> {
    let source = i64::try_from(source).unwrap_or(0);
    conn.prepare_cached(
        "INSERT INTO process_events (topic, payload, source, time_ns) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![topic, payload, source, now_ns()])?;
    let id = conn.last_insert_rowid();
    // Every TRIM_EVERY ids: the newest KEPT overall (a range of ids) and the newest
    // KEPT_PER_TOPIC of this topic (which walks the topic's index past them). Deleting a
    // run of old events at once touches their pages once instead of once per emit.
    if id % TRIM_EVERY == 0 {
        // Exit notices are at most KEPT_PER_TOPIC of the newest rows, so finding the KEPT-th
        // newest other event walks past at most that many.
        conn.prepare_cached(
            "DELETE FROM process_events WHERE topic != ?1 AND id <= (
                 SELECT id FROM process_events WHERE topic != ?1
                 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![EXIT_TOPIC, KEPT as i64])?;
        conn.prepare_cached(
            "DELETE FROM process_events WHERE topic = ?1 AND id <= (
                 SELECT id FROM process_events WHERE topic = ?1
                 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![topic, KEPT_PER_TOPIC as i64])?;
    }
    u64::try_from(id).map_err(|_| KernelError::Store("negative event id".into()))
}

/// Up to `limit` events on `topic` (every topic when `None`) after id `after`, oldest first.
pub(crate) fn after(
    conn: &Connection,
    topic: Option<&str>,
    after: u64,
    limit: usize,
) -> Result<Vec<Event>> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let map = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Event> {
        Ok(Event {
            id: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
            topic: row.get(1)?,
            payload: row.get(2)?,
            source: u64::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
            time_ns: u64::try_from(row.get::<_, i64>(4)?).unwrap_or(0),
        })
    };
    let events = match topic {
        Some(topic) => conn
            .prepare_cached(
                "SELECT id, topic, payload, source, time_ns FROM process_events
                 WHERE topic = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?
            .query_map(params![topic, after, limit], map)?
            .collect::<std::result::Result<Vec<_>, _>>()?,
        None => conn
            .prepare_cached(
                "SELECT id, topic, payload, source, time_ns FROM process_events
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?
            .query_map(params![after, limit], map)?
            .collect::<std::result::Result<Vec<_>, _>>()?,
    };
    Ok(events)
}

/// The id of the newest event ever stored (0 if none): what a process starting now has seen.
pub(crate) fn last_id(conn: &Connection) -> Result<u64> {
    // sqlite_sequence keeps the highest id AUTOINCREMENT handed out, even after deletes.
    let last: Option<i64> = conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'process_events'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(last.and_then(|l| u64::try_from(l).ok()).unwrap_or(0))
}
