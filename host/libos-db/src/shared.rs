//! One connection shared by the threads of a store.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};

/// A connection behind a mutex, for stores that are `Send + Sync`.
#[derive(Debug)]
pub struct SharedConnection {
    conn: Mutex<Connection>,
}

impl SharedConnection {
    /// Wraps `conn`.
    pub fn new(conn: Connection) -> Self {
        SharedConnection {
            conn: Mutex::new(conn),
        }
    }

    /// Locks the connection. A panic in another thread cannot leave it mid-transaction (an
    /// open transaction rolls back while unwinding), so a poisoned lock is still safe to use.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction (taking the database's write lock up
    /// front, so read-then-write decisions inside cannot race another writer), committing only
    /// if `body` succeeds; otherwise everything it wrote is rolled back.
    ///
    /// # Errors
    /// `body`'s error, or SQLite's (converted with `E::from`) when the transaction cannot
    /// begin or commit.
    pub fn immediate<T, E: From<rusqlite::Error>>(
        &self,
        body: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = body(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}
