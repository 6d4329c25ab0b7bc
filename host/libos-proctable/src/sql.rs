//! Conversions between stored rows and records.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, Params, Row};

use crate::error::{KernelError, Result};
use crate::record::{ProcessRecord, TransitionRecord};
use crate::state::State;

/// The columns of `processes` (aliased `p`) in the order [`raw_process`] reads them.
pub(crate) const PROCESS_COLUMNS: &str = "p.pid, p.parent, p.root, p.image, p.image_digest, \
     p.state, p.cwd, p.capabilities, p.host, p.created_ns, p.updated_ns";

/// A `processes` row as stored, before its JSON columns are decoded.
struct RawProcess {
    pid: i64,
    parent: Option<i64>,
    root: Option<i64>,
    image: String,
    image_digest: String,
    state: String,
    cwd: String,
    capabilities: String,
    host: String,
    created_ns: i64,
    updated_ns: i64,
}

fn raw_process(row: &Row<'_>) -> rusqlite::Result<RawProcess> {
    Ok(RawProcess {
        pid: row.get(0)?,
        parent: row.get(1)?,
        root: row.get(2)?,
        image: row.get(3)?,
        image_digest: row.get(4)?,
        state: row.get(5)?,
        cwd: row.get(6)?,
        capabilities: row.get(7)?,
        host: row.get(8)?,
        created_ns: row.get(9)?,
        updated_ns: row.get(10)?,
    })
}

impl RawProcess {
    fn decode(self) -> Result<ProcessRecord> {
        let pid = to_u64(self.pid, "pid")?;
        Ok(ProcessRecord {
            pid,
            parent: self.parent.map(|p| to_u64(p, "parent")).transpose()?,
            root: match self.root {
                Some(root) => to_u64(root, "root")?,
                None => pid,
            },
            image: self.image,
            image_digest: self.image_digest,
            state: decode_state(&self.state)?,
            cwd: self.cwd,
            capabilities: serde_json::from_str(&self.capabilities).map_err(|err| {
                KernelError::Store(format!("corrupt capabilities of process {pid}: {err}"))
            })?,
            host: self.host,
            created_ns: to_u64(self.created_ns, "created_ns")?,
            updated_ns: to_u64(self.updated_ns, "updated_ns")?,
        })
    }
}

/// Runs a query selecting [`PROCESS_COLUMNS`] and decodes every row, in the query's order.
pub(crate) fn query_processes(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<ProcessRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let raws = stmt
        .query_map(params, raw_process)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(RawProcess::decode).collect()
}

/// Reads `process_transitions` rows `(pid, seq, from_state, to_state, time_ns)`.
pub(crate) fn query_transitions(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<TransitionRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let raws = stmt
        .query_map(params, |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter()
        .map(|(pid, seq, from, to, time_ns)| {
            Ok(TransitionRecord {
                pid: to_u64(pid, "pid")?,
                seq: to_u64(seq, "seq")?,
                from: decode_state(&from)?,
                to: decode_state(&to)?,
                time_ns: to_u64(time_ns, "time_ns")?,
            })
        })
        .collect()
}

/// The stored JSON of a state.
pub(crate) fn encode_state(state: &State) -> Result<String> {
    serde_json::to_string(state)
        .map_err(|err| KernelError::Store(format!("cannot encode state {state}: {err}")))
}

/// A state from its stored JSON.
pub(crate) fn decode_state(json: &str) -> Result<State> {
    serde_json::from_str(json)
        .map_err(|err| KernelError::Store(format!("corrupt state {json:?}: {err}")))
}

/// A pid as SQLite stores it; `None` if it is too large to be any stored pid.
pub(crate) fn pid_key(pid: u64) -> Option<i64> {
    i64::try_from(pid).ok()
}

fn to_u64(value: i64, column: &str) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| KernelError::Store(format!("corrupt {column}: negative value {value}")))
}

/// The current time in nanoseconds since the Unix epoch, clamped to what SQLite can store
/// (0 if the clock reads before the epoch).
/// Nanoseconds since the Unix epoch: the clock every time in the table is written with.
pub fn now_ns() -> i64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    i64::try_from(nanos).unwrap_or(i64::MAX)
}
