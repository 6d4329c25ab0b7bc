//! The process tables and how connections to the shared database are opened.
//!
//! The database file is shared with other tables of the runtime; this module only creates its
//! own tables (and their indexes) and never drops or alters anything else. It drops indexes
//! of its own that earlier versions created: `processes_by_state`, which every state change
//! had to update (an extra page in each commit) for the benefit of `ps --live` alone, which
//! reads the table through in a few milliseconds without it; and `processes_by_host`,
//! replaced by `processes_by_host_state`, which also orders each state's rows by their last
//! change, so a host's poll for recent kills reads only those.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;

/// Creates the tables if they do not exist yet.
///
/// `processes` holds one row per process ever created; `AUTOINCREMENT` guarantees a pid is
/// never handed out twice, even after rows are deleted. `state` is the JSON of the
/// [`crate::State`] and `state_name` its [`crate::State::name`]; `root` is the pid of the root
/// of the process's tree (its own pid for a process without parent). `capabilities` is a JSON
/// array of strings. `process_transitions` holds every state change, numbered per process
/// from 1. `process_messages` holds the queued messages (see [`crate::mailbox`]); `interrupt`
/// is 1 for an interrupt signal (whose `body` is NULL). `process_logs` holds each process's
/// log lines, numbered per process from 1; `process_events` the emitted events (see
/// [`crate::events`]); `process_usage` what each process spent against
/// its budgets (see [`crate::Usage`]); `process_policy_chains` the JSON array of image digests
/// whose policies decide for each process (see [`crate::NewProcess::policy_chain`]);
/// `process_tools` the tools processes registered at run time (see [`crate::tools`]);
/// `process_resume` how to resume each process on another host (see [`crate::Resume`]);
/// `process_discarded` what the calls a restore took out of a process's journal had been
/// charged (see [`ProcessTable::add_discarded_charges`]); `process_budgets` the budget each
/// process started with (see
/// [`crate::Resume::budget`]); `process_upgrades` the images live processes were asked to go
/// on with (see
/// [`ProcessTable::request_upgrade`]); `process_restores` the checkpoints processes were
/// asked to go back to (see
/// [`crate::ProcessTable::request_restore`]).
const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS processes (
    pid          INTEGER PRIMARY KEY AUTOINCREMENT,
    parent       INTEGER NULL,
    root         INTEGER,
    image        TEXT    NOT NULL,
    image_digest TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    state_name   TEXT    NOT NULL,
    cwd          TEXT    NOT NULL,
    capabilities TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    created_ns   INTEGER NOT NULL,
    updated_ns   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS processes_by_parent ON processes (parent);
CREATE INDEX IF NOT EXISTS processes_by_host_state ON processes (host, state_name, updated_ns);
DROP INDEX IF EXISTS processes_by_host;
DROP INDEX IF EXISTS processes_by_state;
CREATE TABLE IF NOT EXISTS process_transitions (
    pid        INTEGER NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    time_ns    INTEGER NOT NULL,
    PRIMARY KEY (pid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS process_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    to_pid    INTEGER NOT NULL,
    from_pid  INTEGER NOT NULL,
    interrupt INTEGER NOT NULL,
    body      TEXT    NULL,
    sent_ns   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS process_messages_by_target
    ON process_messages (to_pid, interrupt DESC, id);
CREATE TABLE IF NOT EXISTS process_logs (
    pid     INTEGER NOT NULL,
    seq     INTEGER NOT NULL CHECK (seq >= 1),
    level   TEXT    NOT NULL,
    message TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    PRIMARY KEY (pid, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS process_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT    NOT NULL,
    payload TEXT    NOT NULL,
    source  INTEGER NOT NULL,
    time_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS process_events_by_topic ON process_events (topic, id);
CREATE TABLE IF NOT EXISTS process_policy_chains (
    pid   INTEGER PRIMARY KEY,
    chain TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS process_tools (
    pid          INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    digest       TEXT    NOT NULL,
    capabilities TEXT    NOT NULL,
    inherit      INTEGER NOT NULL,
    registrar    INTEGER NOT NULL,
    time_ns      INTEGER NOT NULL,
    PRIMARY KEY (pid, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS process_resume (
    pid         INTEGER PRIMARY KEY,
    input       TEXT    NOT NULL,
    workdir     TEXT    NOT NULL,
    events_from INTEGER NOT NULL,
    replay_from INTEGER NOT NULL,
    spawned_at  INTEGER NULL
);
CREATE TABLE IF NOT EXISTS process_restores (
    pid          INTEGER PRIMARY KEY,
    checkpoint   INTEGER NOT NULL,
    requested_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS process_budgets (
    pid    INTEGER PRIMARY KEY,
    budget TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS process_discarded (
    pid     INTEGER PRIMARY KEY,
    charges TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS process_upgrades (
    pid          INTEGER PRIMARY KEY,
    image_digest TEXT    NOT NULL,
    requested_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS process_usage (
    pid           INTEGER PRIMARY KEY,
    tool_calls    INTEGER NOT NULL,
    fuel          INTEGER NOT NULL,
    bytes_written INTEGER NOT NULL,
    objects       INTEGER NOT NULL,
    children      INTEGER NOT NULL
);
";

/// Opens (creating if needed) the database at `path` with WAL journaling,
/// `synchronous=NORMAL`, the busy timeout and the tables present.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    Ok(libos_db::open(path, CREATE_TABLES)?)
}
