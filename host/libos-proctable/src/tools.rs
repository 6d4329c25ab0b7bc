//! The tools processes registered at run time (`libos:runtime/tools.register`).
//!
//! One row per (process, name) in `process_tools`: the component's digest (its blob lives in
//! the content-addressed image store), the capabilities its registrar granted it (a JSON
//! array of `ACTION:RESOURCE` strings) and whether children see it. Rows are written in the
//! same database as the process table, so a registration outlives the host that made it.
//! Nothing read back is trusted by itself: the blob is checked against the digest when it is
//! loaded, and the capabilities are parsed and narrowed again at each call.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{KernelError, Result};
use crate::sql::pid_key;

/// How many tools one process may register.
pub const MAX_REGISTERED: usize = 256;

/// One registered tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTool {
    /// Its name in the process's tool table.
    pub name: String,
    /// SHA-256 of the component, lowercase hex.
    pub digest: String,
    /// What its registrar granted it, as `ACTION:RESOURCE`.
    pub capabilities: Vec<String>,
    /// Whether children spawned by the registrar see it.
    pub inherit: bool,
    /// The process that registered it (a child's inherited rows name the ancestor).
    pub registrar: u64,
}

/// Records `tool` for `pid`; `Ok(false)` when `pid` already has a tool of that name or
/// holds [`MAX_REGISTERED`] already (nothing written).
pub(crate) fn register(conn: &Connection, pid: u64, tool: &RegisteredTool) -> Result<bool> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let registrar = pid_key(tool.registrar).ok_or(KernelError::NoSuchProcess(tool.registrar))?;
    let held: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM process_tools WHERE pid = ?1")?
        .query_row(params![key], |row| row.get(0))?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_REGISTERED {
        return Ok(false);
    }
    let caps = serde_json::to_string(&tool.capabilities)
        .map_err(|e| KernelError::Store(format!("cannot encode capabilities: {e}")))?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO process_tools (pid, name, digest, capabilities, inherit, registrar, time_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (pid, name) DO NOTHING",
        )?
        .execute(params![
            key,
            tool.name,
            tool.digest,
            caps,
            tool.inherit,
            registrar,
            crate::sql::now_ns()
        ])?;
    Ok(inserted == 1)
}

/// The tools `pid` registered or inherited, by name.
pub(crate) fn registered(conn: &Connection, pid: u64) -> Result<Vec<RegisteredTool>> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let mut stmt = conn.prepare_cached(
        "SELECT name, digest, capabilities, inherit, registrar FROM process_tools
         WHERE pid = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map(params![key], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, bool>(3)?,
            row.get::<_, i64>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, digest, caps, inherit, registrar) = row?;
        let capabilities = serde_json::from_str(&caps).map_err(|e| {
            KernelError::Store(format!(
                "corrupt capabilities of tool {name:?} of {pid}: {e}"
            ))
        })?;
        out.push(RegisteredTool {
            name,
            digest,
            capabilities,
            inherit,
            registrar: u64::try_from(registrar).unwrap_or(0),
        });
    }
    Ok(out)
}

/// Whether `pid` has a registered tool called `name`.
pub(crate) fn has(conn: &Connection, pid: u64, name: &str) -> Result<bool> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    Ok(conn
        .prepare_cached("SELECT 1 FROM process_tools WHERE pid = ?1 AND name = ?2")?
        .query_row(params![key, name], |_| Ok(()))
        .optional()?
        .is_some())
}
