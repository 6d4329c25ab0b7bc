//! The `journal` table.
//!
//! One row per entry, keyed by (pid, seq); `args_digest` is 32 bytes, `intent` and `result`
//! the caller's encodings (`result` NULL while the call is prepared or in doubt), `state` an
//! [`crate::EffectState`] name, `grant_id` the grant that let an effect through (if one did). `WITHOUT ROWID`: entries are read by process in order. The
//! partial index finds the calls in doubt without reading every entry.

/// Creates the table if it does not exist yet.
pub const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS journal (
    pid         INTEGER NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    interface   TEXT    NOT NULL,
    function    TEXT    NOT NULL,
    args_digest BLOB    NOT NULL,
    intent      BLOB    NOT NULL,
    result      BLOB    NULL,
    state       TEXT    NOT NULL,
    grant_id    INTEGER NULL,
    PRIMARY KEY (pid, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS journal_open_effects ON journal (state, pid, seq)
    WHERE state NOT IN ('committed', 'retried');
";
