//! The `journal` table.
//!
//! One row per entry, keyed by (pid, seq); `args_digest` is 32 bytes, `result` the caller's
//! encoding of the result. `WITHOUT ROWID`: entries are read by process in order.

/// Creates the table if it does not exist yet.
pub const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS journal (
    pid         INTEGER NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    interface   TEXT    NOT NULL,
    function    TEXT    NOT NULL,
    args_digest BLOB    NOT NULL,
    result      BLOB    NOT NULL,
    PRIMARY KEY (pid, seq)
) WITHOUT ROWID;
";
