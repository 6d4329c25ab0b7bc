//! The state directory's shared SQLite database: how every part of the runtime opens it and
//! runs its write transactions.
//!
//! One file (`<state dir>/libos.db`) holds the tables of several crates (audit, images, object
//! memory, processes). Each crate creates only its own tables, and every connection is opened
//! the same way: WAL journal (readers never block the writer, and several `libos` processes
//! can share the file), `synchronous=NORMAL`, and a busy timeout so concurrent writers wait for
//! each other instead of failing.

mod open;
mod shared;

pub use open::{
    BACKGROUND_CHECKPOINT, BUSY_TIMEOUT, FOREGROUND_CHECKPOINT, OpenError, STATEMENT_CACHE,
    checkpoint_here, open,
};
pub use shared::SharedConnection;
