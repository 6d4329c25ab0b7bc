//! Checkpoints: a process's journal up to a position, kept apart from it.
//!
//! A checkpoint copies a consistent prefix of a process's journal (its current image's entries,
//! from `from`, up to the last one before any call still under way) into
//! `journal_checkpoint_entries`, with what the caller needs to start the process again
//! (`meta`, the caller's encoding). A process forked from it ([`Journal::fork`]) gets those
//! entries as its own journal, so replaying it answers every call made before the checkpoint
//! from them: no effect before the checkpoint happens again.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::JournalError;
use crate::writer::Journal;

/// The schema of the checkpoint tables.
pub(crate) const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS journal_checkpoints (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pid        INTEGER NOT NULL,
    name       TEXT    NULL,
    from_seq   INTEGER NOT NULL,
    upto       INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    meta       TEXT    NOT NULL,
    memory     BLOB    NULL
);
CREATE TABLE IF NOT EXISTS journal_checkpoint_entries (
    checkpoint  INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    interface   TEXT    NOT NULL,
    function    TEXT    NOT NULL,
    args_digest BLOB    NOT NULL,
    intent      BLOB    NOT NULL,
    result      BLOB    NULL,
    state       TEXT    NOT NULL,
    PRIMARY KEY (checkpoint, seq)
) WITHOUT ROWID;
";

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Its id.
    pub id: u64,
    /// The process it was taken of.
    pub pid: u64,
    /// The name given, if any.
    pub name: Option<String>,
    /// The first entry it holds (the first of the process's image at the time).
    pub from: u64,
    /// The last entry it holds (`from - 1`: none).
    pub upto: u64,
    /// When it was taken, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// What the caller stored with it.
    pub meta: String,
}

const COLUMNS: &str = "id, pid, name, from_seq, upto, created_ns, meta";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    let n =
        |i: usize| -> rusqlite::Result<u64> { Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0)) };
    Ok(Checkpoint {
        id: n(0)?,
        pid: n(1)?,
        name: r.get(2)?,
        from: n(3)?,
        upto: n(4)?,
        created_ns: n(5)?,
        meta: r.get(6)?,
    })
}

fn key(n: u64) -> Result<i64, JournalError> {
    i64::try_from(n).map_err(|_| JournalError::OutOfRange(n))
}

impl Journal {
    /// Takes a checkpoint of `pid`'s journal from entry `from` (see the module docs), named
    /// `name` (unique among checkpoints, if given), storing `meta` with it, and what `memory`
    /// reads in the same transaction (the process's objects, consistent with the entries
    /// kept: a checkpoint is refused while a memory write is under way).
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails, the name is taken, `memory` fails,
    /// or a memory write is under way ([`JournalError::Busy`]: try again).
    pub fn checkpoint(
        &self,
        pid: u64,
        name: Option<&str>,
        from: u64,
        meta: &str,
        memory: impl FnOnce(&rusqlite::Connection) -> Result<Vec<u8>, String>,
    ) -> Result<Checkpoint, JournalError> {
        let mut conn = self.reader();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(name) = name {
            let taken: Option<i64> = tx
                .query_row(
                    "SELECT id FROM journal_checkpoints WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = taken {
                return Err(JournalError::Store(format!(
                    "checkpoint {id} is already named {name:?}"
                )));
            }
        }
        let (p, f) = (key(pid)?, key(from)?);
        // Up to the last entry before any call still under way (or in doubt).
        let open: Option<i64> = tx.query_row(
            "SELECT MIN(seq) FROM journal WHERE pid = ?1 AND seq >= ?2 AND result IS NULL",
            params![p, f],
            |r| r.get(0),
        )?;
        let last: Option<i64> = tx.query_row(
            "SELECT MAX(seq) FROM journal WHERE pid = ?1 AND seq >= ?2",
            params![p, f],
            |r| r.get(0),
        )?;
        if let Some(open) = open {
            let under_way: String = tx.query_row(
                "SELECT interface FROM journal WHERE pid = ?1 AND seq = ?2",
                params![p, open],
                |r| r.get(0),
            )?;
            if under_way.ends_with("/memory") {
                return Err(JournalError::Busy(format!(
                    "process {pid} is in the middle of a memory write (entry {open})"
                )));
            }
        }
        let memory = memory(&tx).map_err(JournalError::Store)?;
        let upto = match (open, last) {
            (Some(open), _) => open - 1,
            (None, Some(last)) => last,
            (None, None) => f - 1,
        };
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        )
        .unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO journal_checkpoints (pid, name, from_seq, upto, created_ns, meta, memory)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![p, name, f, upto, now, meta, memory],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO journal_checkpoint_entries
                 (checkpoint, seq, interface, function, args_digest, intent, result, state)
             SELECT ?1, seq, interface, function, args_digest, intent, result, state
             FROM journal WHERE pid = ?2 AND seq >= ?3 AND seq <= ?4",
            params![id, p, f, upto],
        )?;
        tx.commit()?;
        Ok(Checkpoint {
            id: u64::try_from(id).unwrap_or(0),
            pid,
            name: name.map(str::to_owned),
            from,
            upto: u64::try_from(upto).unwrap_or(0),
            created_ns: u64::try_from(now).unwrap_or(0),
            meta: meta.to_owned(),
        })
    }

    /// The checkpoints, oldest first; of `pid` only, if given.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be read.
    pub fn checkpoints(&self, pid: Option<u64>) -> Result<Vec<Checkpoint>, JournalError> {
        let conn = self.reader();
        let mut out = Vec::new();
        match pid {
            Some(pid) => {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM journal_checkpoints WHERE pid = ?1 ORDER BY id"
                ))?;
                for c in stmt.query_map([key(pid)?], row)? {
                    out.push(c?);
                }
            }
            None => {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM journal_checkpoints ORDER BY id"
                ))?;
                for c in stmt.query_map([], row)? {
                    out.push(c?);
                }
            }
        }
        Ok(out)
    }

    /// The checkpoint with id or name `which`.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database cannot be read; `Ok(None)` when there is none.
    pub fn checkpoint_named(&self, which: &str) -> Result<Option<Checkpoint>, JournalError> {
        let conn = self.reader();
        let by_name = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM journal_checkpoints WHERE name = ?1"
            ))?
            .query_row([which], row)
            .optional()?;
        if by_name.is_some() {
            return Ok(by_name);
        }
        let Ok(id) = which.parse::<i64>() else {
            return Ok(None);
        };
        Ok(conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM journal_checkpoints WHERE id = ?1"
            ))?
            .query_row([id], row)
            .optional()?)
    }

    /// Gives the new process `pid` (which has no journal yet) the entries of `checkpoint` as
    /// its journal, under the same numbers.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails or `pid` has entries already.
    pub fn fork(&self, checkpoint: &Checkpoint, pid: u64) -> Result<u64, JournalError> {
        let mut conn = self.reader();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let p = key(pid)?;
        let has: i64 = tx.query_row("SELECT COUNT(*) FROM journal WHERE pid = ?1", [p], |r| {
            r.get(0)
        })?;
        if has > 0 {
            return Err(JournalError::Store(format!(
                "process {pid} has a journal already"
            )));
        }
        let copied = tx.execute(
            "INSERT INTO journal (pid, seq, interface, function, args_digest, intent, result, state)
             SELECT ?1, seq, interface, function, args_digest, intent, result, state
             FROM journal_checkpoint_entries WHERE checkpoint = ?2",
            params![p, key(checkpoint.id)?],
        )?;
        tx.commit()?;
        Ok(copied as u64)
    }

    /// Deletes checkpoint `id` and its entries (processes forked from it keep their own
    /// copies). Returns whether there was one.
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails.
    pub fn drop_checkpoint(&self, id: u64) -> Result<bool, JournalError> {
        let mut conn = self.reader();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM journal_checkpoint_entries WHERE checkpoint = ?1",
            [key(id)?],
        )?;
        let gone = tx.execute("DELETE FROM journal_checkpoints WHERE id = ?1", [key(id)?])?;
        tx.commit()?;
        Ok(gone > 0)
    }

    /// What the checkpoint `id` keeps of its process's memory (the caller's encoding; `None`
    /// when there is no such checkpoint).
    ///
    /// # Errors
    /// [`JournalError::Store`] when the database fails.
    pub fn checkpoint_memory(&self, id: u64) -> Result<Option<Vec<u8>>, JournalError> {
        let conn = self.reader();
        let memory: Option<Option<Vec<u8>>> = conn
            .prepare_cached("SELECT memory FROM journal_checkpoints WHERE id = ?1")?
            .query_row([key(id)?], |r| r.get(0))
            .optional()?;
        Ok(memory.map(Option::unwrap_or_default))
    }
}
