//! Queries. Each function reads through the given connection (inside a transaction or not).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{KernelError, Result};
use crate::record::{ProcessFilter, ProcessQuery, ProcessRecord, Stopped, TransitionRecord};
use crate::sql::{PROCESS_COLUMNS, decode_state, pid_key, query_processes, query_transitions};
use crate::state::{LIVE_STATE_NAMES, State};

/// The `IN (...)` list of live state names.
pub(crate) fn live_names() -> String {
    LIVE_STATE_NAMES
        .iter()
        .map(|name| format!("'{name}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The process `pid`.
///
/// # Errors
///
/// [`KernelError::NoSuchProcess`] if there is none; [`KernelError::Store`] if the database
/// fails.
pub(crate) fn process(conn: &Connection, pid: u64) -> Result<ProcessRecord> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let sql = format!("SELECT {PROCESS_COLUMNS} FROM processes p WHERE p.pid = ?1");
    query_processes(conn, &sql, params![key])?
        .into_iter()
        .next()
        .ok_or(KernelError::NoSuchProcess(pid))
}

/// The state of process `pid` alone (what a state change checks: no other column decoded).
///
/// # Errors
///
/// As [`process`].
pub(crate) fn state(conn: &Connection, pid: u64) -> Result<State> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let json: Option<String> = conn
        .prepare_cached("SELECT state FROM processes WHERE pid = ?1")?
        .query_row(params![key], |row| row.get(0))
        .optional()?;
    decode_state(&json.ok_or(KernelError::NoSuchProcess(pid))?)
}

/// The root and the state name of process `pid`: what creating a child of it checks.
///
/// # Errors
///
/// As [`process`].
pub(crate) fn as_parent(conn: &Connection, pid: u64) -> Result<(i64, String)> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    conn.prepare_cached("SELECT COALESCE(root, pid), state_name FROM processes WHERE pid = ?1")?
        .query_row(params![key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .ok_or(KernelError::NoSuchProcess(pid))
}

/// Every process (or every live one) by ascending pid.
pub(crate) fn list(conn: &Connection, filter: ProcessFilter) -> Result<Vec<ProcessRecord>> {
    let sql = match filter {
        ProcessFilter::All => format!("SELECT {PROCESS_COLUMNS} FROM processes p ORDER BY p.pid"),
        ProcessFilter::Live => format!(
            "SELECT {PROCESS_COLUMNS} FROM processes p WHERE p.state_name IN ({}) \
             ORDER BY p.pid",
            live_names()
        ),
    };
    query_processes(conn, &sql, [])
}

/// The processes `query` selects, by ascending pid.
pub(crate) fn query(conn: &Connection, query: &ProcessQuery) -> Result<Vec<ProcessRecord>> {
    let Some((conditions, values)) = conditions(query) else {
        return Ok(Vec::new());
    };
    let mut sql = format!("SELECT {PROCESS_COLUMNS} FROM processes p{conditions} ORDER BY p.pid");
    if let Some(limit) = query.limit {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    query_processes(conn, &sql, rusqlite::params_from_iter(values))
}

/// How many processes `query` selects (its `limit` applied), counted without reading them.
pub(crate) fn count(conn: &Connection, query: &ProcessQuery) -> Result<u64> {
    let Some((conditions, values)) = conditions(query) else {
        return Ok(0);
    };
    let n: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM processes p{conditions}"))?
        .query_row(rusqlite::params_from_iter(values), |row| row.get(0))?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok(query.limit.map_or(n, |limit| n.min(limit)))
}

/// The `WHERE` clause (with a leading space, or empty) of `query` and its bound values;
/// `None` when it can select nothing.
fn conditions(query: &ProcessQuery) -> Option<(String, Vec<rusqlite::types::Value>)> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut bind = |value: rusqlite::types::Value| {
        values.push(value);
        format!("?{}", values.len())
    };
    if query.live {
        conditions.push(format!("p.state_name IN ({})", live_names()));
    }
    if !query.states.is_empty() {
        let names: Vec<String> = query
            .states
            .iter()
            .map(|name| bind(name.clone().into()))
            .collect();
        conditions.push(format!("p.state_name IN ({})", names.join(", ")));
    }
    if let Some(image) = &query.image {
        // Compared as text, never as a pattern: `%` or `_` in it match only themselves.
        let condition = if let Some(prefix) = image.strip_prefix("sha256:") {
            let at = bind(format!("sha256:{prefix}").into());
            format!("substr(p.image_digest, 1, length({at})) = {at}")
        } else if image.contains(':') {
            format!("p.image = {}", bind(image.clone().into()))
        } else {
            let at = bind(format!("{image}:").into());
            format!("substr(p.image, 1, length({at})) = {at}")
        };
        conditions.push(condition);
    }
    if let Some(parent) = query.parent {
        let key = pid_key(parent)?;
        conditions.push(format!("p.parent = {}", bind(key.into())));
    }
    if let Some(host) = &query.host {
        conditions.push(format!("p.host = {}", bind(host.clone().into())));
    }
    if conditions.is_empty() {
        return Some((String::new(), values));
    }
    Some((format!(" WHERE {}", conditions.join(" AND ")), values))
}

/// The live processes of `host` by ascending pid.
pub(crate) fn owned_by(conn: &Connection, host: &str) -> Result<Vec<ProcessRecord>> {
    let sql = format!(
        "SELECT {PROCESS_COLUMNS} FROM processes p \
         WHERE p.host = ?1 AND p.state_name IN ({}) ORDER BY p.pid",
        live_names()
    );
    query_processes(conn, &sql, params![host])
}

/// The pids of the processes of `host` in state `killed` (changed at or after `since_ns`)
/// and in state `paused`, ascending. Both are ranges of the `(host, state_name, updated_ns)`
/// index.
pub(crate) fn stopped_on(conn: &Connection, host: &str, since_ns: u64) -> Result<Stopped> {
    let since = i64::try_from(since_ns).unwrap_or(i64::MAX);
    // Two index ranges (an `OR` of them would scan every row of the host).
    let mut stmt = conn.prepare_cached(
        "SELECT pid, state_name FROM processes WHERE host = ?1 AND state_name = 'paused'
         UNION ALL
         SELECT pid, state_name FROM processes
         WHERE host = ?1 AND state_name = 'killed' AND updated_ns >= ?2
         ORDER BY 1",
    )?;
    let rows = stmt
        .query_map(params![host, since], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut stopped = Stopped::default();
    for (pid, state) in rows {
        let Ok(pid) = u64::try_from(pid) else {
            continue;
        };
        if state == "killed" {
            stopped.killed.push(pid);
        } else {
            stopped.paused.push(pid);
        }
    }
    Ok(stopped)
}

/// The distinct hosts of the live processes, by name.
pub(crate) fn live_hosts(conn: &Connection) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT host FROM processes WHERE state_name IN ({}) ORDER BY host",
        live_names()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let hosts = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(hosts)
}

/// The direct children of `pid` (which must exist) by ascending pid.
pub(crate) fn children(conn: &Connection, pid: u64) -> Result<Vec<ProcessRecord>> {
    let key = existing(conn, pid)?;
    let sql =
        format!("SELECT {PROCESS_COLUMNS} FROM processes p WHERE p.parent = ?1 ORDER BY p.pid");
    query_processes(conn, &sql, params![key])
}

/// `pid` (which must exist) and its whole subtree in tree order: depth first, each process
/// before its descendants, siblings by ascending pid.
pub(crate) fn subtree(conn: &Connection, pid: u64) -> Result<Vec<ProcessRecord>> {
    let key = existing(conn, pid)?;
    // A child is always created after its parent, so `c.pid > s.pid` holds for every real
    // edge and guarantees termination even on corrupt data.
    let sql = format!(
        "WITH RECURSIVE subtree(pid, path) AS (
             SELECT pid, printf('%020d', pid) FROM processes WHERE pid = ?1
             UNION ALL
             SELECT c.pid, s.path || '/' || printf('%020d', c.pid)
             FROM processes c JOIN subtree s ON c.parent = s.pid
             WHERE c.pid > s.pid
         )
         SELECT {PROCESS_COLUMNS} FROM subtree s JOIN processes p ON p.pid = s.pid
         ORDER BY s.path"
    );
    query_processes(conn, &sql, params![key])
}

/// The ancestors of `pid` (which must exist): its parent first, its tree's root last.
pub(crate) fn ancestors(conn: &Connection, pid: u64) -> Result<Vec<ProcessRecord>> {
    let key = existing(conn, pid)?;
    let sql = format!(
        "WITH RECURSIVE up(pid, depth) AS (
             SELECT parent, 1 FROM processes WHERE pid = ?1 AND parent IS NOT NULL
             UNION ALL
             SELECT a.parent, up.depth + 1 FROM processes a JOIN up ON a.pid = up.pid
             WHERE a.parent IS NOT NULL AND a.parent < up.pid
         )
         SELECT {PROCESS_COLUMNS} FROM up JOIN processes p ON p.pid = up.pid
         ORDER BY up.depth"
    );
    query_processes(conn, &sql, params![key])
}

/// The recorded state changes of `pid` (which must exist) in order.
pub(crate) fn transitions(conn: &Connection, pid: u64) -> Result<Vec<TransitionRecord>> {
    let key = existing(conn, pid)?;
    query_transitions(
        conn,
        "SELECT pid, seq, from_state, to_state, time_ns FROM process_transitions
         WHERE pid = ?1 ORDER BY seq",
        params![key],
    )
}

/// The stored key of `pid`, or [`KernelError::NoSuchProcess`] if there is no such process.
fn existing(conn: &Connection, pid: u64) -> Result<i64> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let found: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM processes WHERE pid = ?1")?
        .query_row(params![key], |row| row.get(0))?;
    if found == 0 {
        Err(KernelError::NoSuchProcess(pid))
    } else {
        Ok(key)
    }
}

/// The policy chain stored for `pid` (see [`crate::NewProcess::policy_chain`]); `None` when
/// none was recorded.
pub(crate) fn policy_chain(conn: &Connection, pid: u64) -> Result<Option<Vec<String>>> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let text: Option<String> = conn
        .prepare_cached("SELECT chain FROM process_policy_chains WHERE pid = ?1")?
        .query_row(params![key], |row| row.get(0))
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|err| {
            KernelError::Store(format!("corrupt policy chain of process {pid}: {err}"))
        })
    })
    .transpose()
}
