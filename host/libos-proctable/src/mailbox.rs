//! The persisted message queue of every process: `send`/`recv` between processes, with
//! interrupt signals delivered ahead of ordinary messages.
//!
//! Messages live in the `process_messages` table of the shared database until their receiver
//! takes them, so a message sent to a process survives the sender's end and a host restart.
//! The queue of a process that ends is dropped with it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{KernelError, Result};
use crate::read;
use crate::sql::{now_ns, pid_key};

/// Most messages (interrupts included) one queue holds; sending more is
/// [`KernelError::QueueFull`] until the receiver takes some.
pub const MAX_QUEUED: usize = 256;

/// Largest message body, in bytes (checked by the caller before [`send`]).
pub const MAX_BODY: usize = 64 << 10;

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    /// An interrupt signal: always taken before any ordinary message.
    Interrupt,
    /// An ordinary message: a JSON text.
    Data(String),
}

/// One taken message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its position in the database (increasing in send order).
    pub id: u64,
    /// The sending process; 0 for the host or an operator.
    pub from: u64,
    /// What it carries.
    pub body: MessageBody,
}

/// Queues `body` for the live process `to`; returns the message id.
pub(crate) fn send(conn: &Connection, to: u64, from: u64, body: &MessageBody) -> Result<u64> {
    let target = read::process(conn, to)?;
    if target.state.is_ended() {
        return Err(KernelError::Ended {
            pid: to,
            state: target.state.name().to_owned(),
        });
    }
    let key = pid_key(to).ok_or(KernelError::NoSuchProcess(to))?;
    let queued: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM process_messages WHERE to_pid = ?1")?
        .query_row(params![key], |row| row.get(0))?;
    if usize::try_from(queued).unwrap_or(usize::MAX) >= MAX_QUEUED {
        return Err(KernelError::QueueFull {
            pid: to,
            limit: MAX_QUEUED,
        });
    }
    let (interrupt, data) = match body {
        MessageBody::Interrupt => (1, None),
        MessageBody::Data(text) => (0, Some(text.as_str())),
    };
    let from = i64::try_from(from).unwrap_or(0);
    conn.prepare_cached(
        "INSERT INTO process_messages (to_pid, from_pid, interrupt, body, sent_ns)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key, from, interrupt, data, now_ns()])?;
    u64::try_from(conn.last_insert_rowid())
        .map_err(|_| KernelError::Store("negative message id".into()))
}

/// Takes (removes and returns) the next message for `pid`: the oldest interrupt, else the
/// oldest ordinary message.
pub(crate) fn take(conn: &Connection, pid: u64) -> Result<Option<Message>> {
    let key = pid_key(pid).ok_or(KernelError::NoSuchProcess(pid))?;
    let row = conn
        .prepare_cached(
            "SELECT id, from_pid, interrupt, body FROM process_messages WHERE to_pid = ?1
             ORDER BY interrupt DESC, id LIMIT 1",
        )?
        .query_row(params![key], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()?;
    let Some((id, from, interrupt, body)) = row else {
        return Ok(None);
    };
    conn.prepare_cached("DELETE FROM process_messages WHERE id = ?1")?
        .execute(params![id])?;
    let body = match (interrupt, body) {
        (0, Some(text)) => MessageBody::Data(text),
        (0, None) => return Err(KernelError::Store(format!("message {id} has no body"))),
        _ => MessageBody::Interrupt,
    };
    Ok(Some(Message {
        id: u64::try_from(id).unwrap_or(0),
        from: u64::try_from(from).unwrap_or(0),
        body,
    }))
}

/// The id of the newest message ever queued (0 if none): it only grows, so a host that sees
/// it change knows a message arrived, from whichever host.
pub(crate) fn last_sent(conn: &Connection) -> Result<u64> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'process_messages'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

/// Drops the queue of `key` (a process that ended).
pub(crate) fn drop_queue(conn: &Connection, key: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM process_messages WHERE to_pid = ?1")?
        .execute(params![key])?;
    Ok(())
}
