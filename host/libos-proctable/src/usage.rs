//! What each process has spent against its budgets, as last reported by its host: the
//! `process_usage` table, shown by `libos ps`.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::error::{KernelError, Result};
use crate::sql::pid_key;

/// What a process and its descendants spent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tool calls made.
    pub tool_calls: u64,
    /// Fuel burnt.
    pub fuel: u64,
    /// Bytes written through `fs.write`.
    pub bytes_written: u64,
    /// Objects created.
    pub objects: u64,
    /// Children spawned.
    pub children: u64,
}

fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Records `usage` as what `pid` has spent.
pub(crate) fn set(conn: &Connection, pid: u64, usage: &Usage) -> Result<()> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    conn.prepare_cached(
        "INSERT INTO process_usage (pid, tool_calls, fuel, bytes_written, objects, children)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pid) DO UPDATE SET tool_calls = ?2, fuel = ?3, bytes_written = ?4,
             objects = ?5, children = ?6",
    )?
    .execute(params![
        key,
        to_sql(usage.tool_calls),
        to_sql(usage.fuel),
        to_sql(usage.bytes_written),
        to_sql(usage.objects),
        to_sql(usage.children)
    ])?;
    Ok(())
}

/// What every process that reported spending has spent.
pub(crate) fn all(conn: &Connection) -> Result<HashMap<u64, Usage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pid, tool_calls, fuel, bytes_written, objects, children FROM process_usage",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            from_sql(row.get(0)?),
            Usage {
                tool_calls: from_sql(row.get(1)?),
                fuel: from_sql(row.get(2)?),
                bytes_written: from_sql(row.get(3)?),
                objects: from_sql(row.get(4)?),
                children: from_sql(row.get(5)?),
            },
        ))
    })?;
    Ok(rows.collect::<std::result::Result<HashMap<_, _>, _>>()?)
}

/// What the ended children of `parent` spent, each with its descendants, summed.
pub(crate) fn of_ended_children(conn: &Connection, parent: u64) -> Result<Usage> {
    let sql = format!(
        "SELECT COALESCE(SUM(u.tool_calls), 0), COALESCE(SUM(u.fuel), 0),
                COALESCE(SUM(u.bytes_written), 0), COALESCE(SUM(u.objects), 0),
                COALESCE(SUM(u.children), 0)
         FROM processes p JOIN process_usage u ON u.pid = p.pid
         WHERE p.parent = ?1 AND p.state_name NOT IN ({})",
        crate::read::live_names()
    );
    let usage = conn
        .prepare_cached(&sql)?
        .query_row([to_sql(parent)], |row| {
            Ok(Usage {
                tool_calls: from_sql(row.get(0)?),
                fuel: from_sql(row.get(1)?),
                bytes_written: from_sql(row.get(2)?),
                objects: from_sql(row.get(3)?),
                children: from_sql(row.get(4)?),
            })
        })?;
    Ok(usage)
}
