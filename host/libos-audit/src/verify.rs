//! Verification of a stored log: walks the chain and reports the first inconsistency.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::chain::{self, GENESIS_HASH};
use crate::error::AuditError;
use crate::{row, schema};

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// How many rows the `audit` table holds (all of them, also those after a bad one).
    pub records: u64,
    /// The first inconsistency found, in `seq` order; `None` if the chain is intact.
    pub first_bad: Option<BadRecord>,
    /// The hash of the last record walked cleanly (hex), the head to write down; `None` for
    /// an empty log.
    pub head: Option<String>,
    /// Whether the head kept outside the database (`libos.db.head`) was there to check
    /// against. A log holding records without it was either last written before the file
    /// existed or had it removed: a cut tail cannot be ruled out then (callers say so).
    pub head_file: bool,
}

impl VerifyReport {
    /// Whether the whole chain, including the head, checked out.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// The first record at which the chain stops being consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// The `seq` of the first record that is edited, missing, forged or out of place.
    pub seq: i64,
    /// Human-readable explanation, starting with `record <seq>: `.
    pub reason: String,
}

/// Checks the audit chain in the database at `db_path`, opened read-only, in one snapshot.
///
/// Reports the first of: a `seq` that is not the next in 1, 2, 3, ... (deleted or inserted
/// rows), a `prev_hash` that differs from the previous row's `hash`, a `hash` that does not
/// match the recomputed one (edited or reordered contents), an undecodable row, or an
/// `audit_head` row that does not name the last row (deleted tail, appended rows, edited
/// head). A missing file or missing tables count as an empty, intact log.
///
/// Returns `Err` only when the database cannot be read at all; tampering and corrupt values
/// are reported in [`VerifyReport::first_bad`].
///
/// Also checked against the head kept outside the database (see [`crate::head_file`]) when
/// it exists: the record it names must be stored with its hash, so a cut tail with its head
/// row moved back, or a database emptied or replaced, is reported.
pub fn verify(db_path: &Path) -> Result<VerifyReport, AuditError> {
    verify_against(db_path, None)
}

/// [`verify`], and also requires a record whose hash is `written_down` (hex): a head a person
/// noted earlier, which any later state of the log must still hold.
pub fn verify_against(
    db_path: &Path,
    written_down: Option<&str>,
) -> Result<VerifyReport, AuditError> {
    let kept = crate::head_file::read(&crate::head_file::path_for(db_path))
        .map_err(AuditError::Corrupt)?;
    let written_down = match written_down {
        Some(hex) => Some(
            row::hash_bytes("the head given", hex.trim().trim_start_matches("sha256:"))
                .map_err(AuditError::Corrupt)?,
        ),
        None => None,
    };
    let Some(mut conn) = schema::open_read_only(db_path)? else {
        let mut walk = Walk::new();
        walk.check_kept(kept, written_down);
        walk.report.head_file = kept.is_some();
        return Ok(walk.report);
    };
    // A read transaction pins one snapshot, so concurrent appends do not skew rows vs. head.
    let tx = conn.transaction()?;
    let mut report = verify_snapshot(&tx, kept, written_down)?;
    tx.finish()?;
    report.head_file = kept.is_some();
    Ok(report)
}

fn verify_snapshot(
    conn: &Connection,
    kept: Option<(i64, [u8; 32])>,
    written_down: Option<[u8; 32]>,
) -> Result<VerifyReport, AuditError> {
    let mut walk = Walk::new();
    walk.kept = kept;
    walk.written_down = written_down;
    if schema::table_exists(conn, "audit")? {
        let sql = format!(
            "SELECT {} FROM audit ORDER BY seq",
            schema::audit_columns(conn)?
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            walk.step(r);
        }
    }
    let head = if schema::table_exists(conn, "audit_head")? {
        conn.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok(row::integer(r, 0, "seq").and_then(|seq| {
                let hash = row::text(r, 1, "hash")?;
                Ok((seq, row::hash_bytes("hash", &hash)?))
            }))
        })
        .optional()?
    } else {
        None
    };
    walk.check_head(head);
    walk.check_kept(kept, written_down);
    if walk.report.first_bad.is_none() && walk.expected > 1 {
        walk.report.head = Some(hex::encode(walk.prev));
    }
    Ok(walk.report)
}

/// State of the walk over rows in `seq` order.
struct Walk {
    report: VerifyReport,
    /// The `seq` the next row must have.
    expected: i64,
    /// The hash the next row must carry as `prev_hash`.
    prev: [u8; 32],
    /// The head kept outside the database, and whether its record was found with its hash.
    kept: Option<(i64, [u8; 32])>,
    kept_found: bool,
    /// A head a person wrote down, and whether a record carries it.
    written_down: Option<[u8; 32]>,
    written_down_found: bool,
}

impl Walk {
    fn new() -> Self {
        Walk {
            report: VerifyReport {
                records: 0,
                first_bad: None,
                head: None,
                head_file: false,
            },
            expected: 1,
            prev: GENESIS_HASH,
            kept: None,
            kept_found: false,
            written_down: None,
            written_down_found: false,
        }
    }

    fn bad(&mut self, seq: i64, reason: String) {
        if self.report.first_bad.is_none() {
            self.report.first_bad = Some(BadRecord { seq, reason });
        }
    }

    /// Checks one row; after the first bad row, only counts.
    fn step(&mut self, r: &rusqlite::Row<'_>) {
        self.report.records += 1;
        if self.report.first_bad.is_some() {
            return;
        }
        let expected = self.expected;
        let seq = match row::seq(r) {
            Ok(seq) => seq,
            Err(problem) => return self.bad(expected, format!("record {expected}: {problem}")),
        };
        if seq > expected {
            return self.bad(
                expected,
                format!("record {expected}: missing, the next stored record is {seq} (deleted?)"),
            );
        }
        if seq < expected {
            return self.bad(
                seq,
                format!("record {seq}: out of sequence, expected record {expected} (inserted?)"),
            );
        }
        if let Err(problem) = self.check_row(r, seq) {
            return self.bad(seq, format!("record {seq}: {problem}"));
        }
        self.expected = seq.saturating_add(1);
    }

    /// Checks the links and hash of row `seq`; on success advances `prev`.
    fn check_row(&mut self, r: &rusqlite::Row<'_>, seq: i64) -> Result<(), String> {
        let stored = row::stored_record(r, seq)?;
        let prev_hash = row::hash_bytes("prev_hash", &stored.prev_hash)?;
        let hash = row::hash_bytes("hash", &stored.hash)?;
        if prev_hash != self.prev {
            return Err(if seq == 1 {
                "prev_hash is not the genesis hash (records before it removed?)".into()
            } else {
                format!(
                    "prev_hash does not match the hash of record {} (reordered or replaced?)",
                    seq - 1
                )
            });
        }
        if chain::record_hash(&prev_hash, seq, &stored.record) != hash {
            return Err("hash does not match its contents (edited?)".into());
        }
        if let Some((kept_seq, kept_hash)) = self.kept
            && kept_seq == seq
        {
            if kept_hash != hash {
                return Err(
                    "differs from the head kept outside the database (the log replaced?)".into(),
                );
            }
            self.kept_found = true;
        }
        if self.written_down == Some(hash) {
            self.written_down_found = true;
        }
        self.prev = hash;
        Ok(())
    }

    /// Checks, once all rows are walked, that the heads kept outside the database and
    /// written down by a person are in it.
    fn check_kept(&mut self, kept: Option<(i64, [u8; 32])>, written_down: Option<[u8; 32]>) {
        if self.report.first_bad.is_some() {
            return;
        }
        let last = self.expected - 1;
        if let Some((kept_seq, _)) = kept
            && kept_seq > 0
            && !self.kept_found
        {
            let missing = (last + 1).min(kept_seq);
            return self.bad(
                missing,
                format!(
                    "record {missing}: missing, the head kept outside the database says the log \
                     reaches record {kept_seq} but it ends at record {last} (tail deleted, or \
                     the database emptied or replaced?)"
                ),
            );
        }
        if written_down.is_some() && !self.written_down_found {
            self.bad(
                last + 1,
                format!(
                    "no record carries the head written down (the log ends at record {last}):                      records removed or the log replaced"
                ),
            );
        }
    }

    /// Checks that `audit_head` names the last row, once all rows are walked cleanly.
    fn check_head(&mut self, head: Option<Result<(i64, [u8; 32]), String>>) {
        if self.report.first_bad.is_some() {
            return;
        }
        let last = self.expected - 1;
        let (head_seq, head_hash) = match head {
            None if last == 0 => return,
            None => {
                return self.bad(
                    last,
                    format!("record {last}: the audit_head row is missing (head deleted?)"),
                );
            }
            Some(Err(problem)) => {
                return self.bad(
                    last,
                    format!("record {last}: audit_head is corrupt: {problem}"),
                );
            }
            Some(Ok(head)) => head,
        };
        if head_seq > last {
            let missing = last + 1;
            self.bad(
                missing,
                format!(
                    "record {missing}: missing, the head says the log ends at record {head_seq} \
                     but the last stored record is {last} (tail deleted?)"
                ),
            );
        } else if head_seq < last {
            let extra = head_seq.saturating_add(1).max(1);
            self.bad(
                extra,
                format!(
                    "record {extra}: not covered by the head, which ends the log at record \
                     {head_seq} (appended outside the log, or head edited?)"
                ),
            );
        } else if head_hash != self.prev {
            self.bad(
                last,
                format!(
                    "record {last}: hash differs from the one in audit_head (head edited or last \
                     record replaced?)"
                ),
            );
        }
    }
}
