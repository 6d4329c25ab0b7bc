//! Pids handed out ahead of the table, from blocks reserved in it.
//!
//! `processes.pid` is `AUTOINCREMENT`: SQLite keeps the largest pid ever used in
//! `sqlite_sequence` and gives every new row a larger one. Raising that number reserves the
//! pids below it: no insert by any connection gets them, so a host can hand them out without
//! asking the table each time (see `deferred.rs`). A block a host did not use up is given
//! back when its table closes, if nobody reserved after it, so pids stay dense in the usual
//! case of one host at a time; a host that dies leaves a gap, never a duplicate.

use rusqlite::{Connection, params};

use crate::error::{KernelError, Result};

/// How many pids a host reserves at once: a reservation is a commit, so one per this many
/// spawns.
pub(crate) const BLOCK: u64 = 256;

/// The unused part of a reserved block: `next..=last` (empty when `next > last`).
#[derive(Debug, Default)]
pub(crate) struct Block {
    next: u64,
    last: u64,
}

impl Block {
    /// The next pid of the block, if any is left.
    pub(crate) fn take(&mut self) -> Option<u64> {
        (self.next != 0 && self.next <= self.last).then(|| {
            self.next += 1;
            self.next - 1
        })
    }
}

/// Reserves the next [`BLOCK`] pids.
pub(crate) fn reserve(conn: &Connection) -> Result<Block> {
    let sequence: i64 = conn
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'processes'), 0),
                        COALESCE((SELECT MAX(pid) FROM processes), 0))",
        )?
        .query_row([], |row| row.get(0))?;
    let base = u64::try_from(sequence)
        .map_err(|_| KernelError::Store(format!("corrupt pid sequence {sequence}")))?;
    let last = base
        .checked_add(BLOCK)
        .filter(|last| i64::try_from(*last).is_ok())
        .ok_or_else(|| KernelError::Store("no pids left".into()))?;
    let stored = i64::try_from(last).unwrap_or(i64::MAX);
    let updated = conn
        .prepare_cached("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'processes'")?
        .execute(params![stored])?;
    if updated == 0 {
        conn.prepare_cached("INSERT INTO sqlite_sequence (name, seq) VALUES ('processes', ?1)")?
            .execute(params![stored])?;
    }
    Ok(Block {
        next: base + 1,
        last,
    })
}

/// Gives back the unused rest of `block` if it is still the newest reservation.
pub(crate) fn give_back(conn: &Connection, block: &Block) -> Result<()> {
    if block.next == 0 || block.next > block.last {
        return Ok(());
    }
    let (Ok(used), Ok(last)) = (i64::try_from(block.next - 1), i64::try_from(block.last)) else {
        return Ok(());
    };
    conn.prepare_cached(
        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'processes' AND seq = ?2",
    )?
    .execute(params![used, last])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Block;

    #[test]
    fn a_block_hands_out_each_pid_once() {
        let mut block = Block { next: 5, last: 7 };
        assert_eq!(
            [block.take(), block.take(), block.take(), block.take()],
            [Some(5), Some(6), Some(7), None]
        );
        assert_eq!(Block::default().take(), None);
    }
}
