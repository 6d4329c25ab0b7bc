//! The queue's tables in the shared database.
//!
//! `human_requests` holds every approval request and question, pending or decided (kept as
//! the record of who decided what). A partial unique index keeps one pending approval
//! request per (pid, action, resource, digest, version): asking again for exactly the same
//! effect returns the request already waiting. `human_grants` holds what approvals minted:
//! `uses_left` NULL means unlimited (ttl, session), `expires_ns` NULL no expiry; a grant
//! with no use left stays as the record of its use. `human_rules` holds the standing
//! `always` / `never` answers.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;

const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS human_requests (
    id             TEXT    PRIMARY KEY,
    kind           TEXT    NOT NULL CHECK (kind IN ('approval', 'question')),
    pid            INTEGER NOT NULL,
    image          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    resource       TEXT    NOT NULL,
    args_digest    TEXT    NULL,
    target_version TEXT    NULL,
    preview        TEXT    NOT NULL,
    choices        TEXT    NULL,
    asked_because  TEXT    NOT NULL,
    state          TEXT    NOT NULL
        CHECK (state IN ('pending', 'approved', 'denied', 'answered', 'expired')),
    created_ns     INTEGER NOT NULL,
    expires_ns     INTEGER NOT NULL,
    decided_ns     INTEGER NULL,
    decided_by     TEXT    NULL,
    scope          TEXT    NULL,
    note           TEXT    NULL
);
CREATE INDEX IF NOT EXISTS human_requests_by_state ON human_requests (state, created_ns);
CREATE INDEX IF NOT EXISTS human_requests_by_decision ON human_requests (decided_ns);
CREATE UNIQUE INDEX IF NOT EXISTS human_requests_one_pending
    ON human_requests (pid, action, resource, COALESCE(args_digest, ''),
                       COALESCE(target_version, ''))
    WHERE state = 'pending' AND kind = 'approval';
CREATE TABLE IF NOT EXISTS human_grants (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id     TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    action         TEXT    NOT NULL,
    resource       TEXT    NOT NULL,
    args_digest    TEXT    NULL,
    target_version TEXT    NULL,
    scope          TEXT    NOT NULL,
    uses_left      INTEGER NULL,
    expires_ns     INTEGER NULL,
    created_ns     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS human_grants_by_call ON human_grants (pid, action, resource);
CREATE TABLE IF NOT EXISTS human_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    image      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    effect     TEXT    NOT NULL CHECK (effect IN ('always', 'never')),
    request_id TEXT    NULL,
    decided_by TEXT    NULL,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS human_rules_by_image ON human_rules (image, action);
";

/// Opens (creating if needed) the database at `path` with the queue's tables.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    Ok(libos_db::open(path, CREATE_TABLES)?)
}
