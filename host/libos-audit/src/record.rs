//! The audit record: one authority decision, as handed to the log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::batch::Batch;

/// The outcome of one authority check, as the audit log stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The call was allowed and went ahead.
    Allow,
    /// The call was refused; nothing was done.
    Deny,
    /// The call needs a human decision; nothing was done yet.
    Ask,
}

impl Verdict {
    /// The lowercase name stored in the log (`allow`, `deny`, `ask`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::Ask => "ask",
        }
    }
}

/// What was decided about one request: the part of an audit record that is the same every
/// time the same request gets the same verdict.
///
/// The authority keeps one `Decided` per cached verdict and hands each record a shared
/// reference to it, so recording a repeated decision allocates nothing and copies one pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    /// Who asked: e.g. `tool:word_count` or later `pid:7`.
    pub subject: Arc<str>,
    /// The action asked for, e.g. `fs.read`.
    pub action: Arc<str>,
    /// The resource acted on, e.g. a path relative to the working directory.
    pub resource: Arc<str>,
    /// The decision.
    pub verdict: Verdict,
    /// Why: the denial reason, or which capability / policy allowed it. May be empty.
    pub reason: Arc<str>,
    /// Ids of the policies that decided (Cedar policy ids), possibly empty.
    pub policy_ids: Arc<[String]>,
}

/// One authority decision to append to the log.
///
/// The record is hashed into the chain exactly as given: every field (those of [`Decided`]
/// included) takes part in the hash, so changing any of them after the fact is detected by
/// verification. Serialises flat: `time_ns`, the fields of [`Decided`], `request_id`,
/// `args_digest`, and `detail` when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Wall-clock time of the decision, nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// Who asked for what, and the verdict; shared between records of the same decision.
    #[serde(flatten)]
    pub decided: Arc<Decided>,
    /// Id of the approval request created for an `ask` verdict.
    pub request_id: Option<String>,
    /// Hex SHA-256 of the call's arguments, when the call has any.
    pub args_digest: Option<String>,
    /// What the call asked for beyond its resource, when the primitive records it: a shell
    /// command's whole argv, quoted (at most [`MAX_DETAIL`] bytes, cut with a note). Guest
    /// text: escape it wherever it is printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Longest [`AuditRecord::detail`] the runtime records, in bytes.
pub const MAX_DETAIL: usize = 4096;

/// `detail` cut to at most [`MAX_DETAIL`] bytes (on a character boundary), saying how long it
/// was when cut.
pub fn capped_detail(detail: String) -> String {
    if detail.len() <= MAX_DETAIL {
        return detail;
    }
    let note = format!("… ({} bytes in all)", detail.len());
    let mut cut = MAX_DETAIL.saturating_sub(note.len());
    while !detail.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{note}", &detail[..cut])
}

impl AuditRecord {
    /// A record of a decision made now outside any authority check (a person's decision, a
    /// request the host closed): no policy ids, no argument digest.
    pub fn decided_now(
        (subject, action, resource): (&str, &str, &str),
        verdict: Verdict,
        reason: &str,
        request_id: Option<String>,
    ) -> AuditRecord {
        AuditRecord {
            time_ns: crate::clock::now_ns(),
            decided: Arc::new(Decided {
                subject: subject.into(),
                action: action.into(),
                resource: resource.into(),
                verdict,
                reason: reason.into(),
                policy_ids: Arc::from([]),
            }),
            request_id,
            args_digest: None,
            detail: None,
        }
    }
}

/// Anything that accepts audit records. The hot path calls [`AuditSink::append`], which must
/// not block on I/O; durability is reached by the sink's own flush.
pub trait AuditSink: Send + Sync {
    /// Queues one record for appending. Never blocks on disk.
    fn append(&self, record: AuditRecord);

    /// Queues every record of `records`, in order, leaving it empty. Sinks that can take a
    /// batch at once (the audit log: one lock, one copy) override this.
    fn append_all(&self, records: &mut Vec<AuditRecord>) {
        for record in records.drain(..) {
            self.append(record);
        }
    }

    /// Queues every record of `batch`, in order, leaving it empty. Sinks that can take a
    /// batch whole (the audit log: one lock, no copy, records built by its writer thread)
    /// override this.
    fn append_batch(&self, batch: &mut Batch) {
        let mut records = Vec::with_capacity(batch.len());
        batch.drain_into(&mut records);
        self.append_all(&mut records);
    }

    /// Waits until every record queued so far is stored where a crash of the host does not
    /// lose it, or says why it cannot be (then the caller must not act on what the records
    /// allowed). A sink that keeps nothing has nothing to wait for.
    ///
    /// # Errors
    /// Why the records could not be stored.
    fn store(&self) -> Result<(), String> {
        Ok(())
    }

    /// [`AuditSink::store`] without waiting: calls `done` with the outcome once every record
    /// queued so far is stored (possibly at once, possibly on another thread). `done` must not
    /// block. The default stores synchronously.
    fn store_then(&self, done: StoreDone) {
        done(self.store());
    }

    /// Queues every record of `batch` (leaving it empty), then [`AuditSink::store_then`]; a
    /// sink that can take both at once (the audit log) does, so the outcome `done` is told is
    /// that of the batch these records were written in.
    fn store_batch_then(&self, batch: &mut Batch, done: StoreDone) {
        self.append_batch(batch);
        self.store_then(done);
    }

    /// Why records cannot be stored now, if they cannot: every decision then fails closed
    /// (see `Authority`). A sink that keeps nothing never fails.
    fn failing(&self) -> Option<String> {
        None
    }
}

/// What [`AuditSink::store_then`] calls with the outcome of storing.
pub type StoreDone = Box<dyn FnOnce(Result<(), String>) + Send>;
