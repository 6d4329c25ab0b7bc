//! What a host does with what dead hosts left on the state directory: it adopts their live
//! processes and resumes each from its journal ([`crate::Kernel::adopt_orphans`], see
//! `resume.rs`). A process that cannot be resumed is marked failed (`host lost`), and the
//! requests it left waiting for a person are closed, each closing audited as `human.expire`.

use libos_audit::{AuditLog, AuditRecord, AuditSink, Verdict};
use libos_human::HumanQueue;

use crate::error::ProcessError;

/// Closes the pending requests of `lost` (processes of a dead host, marked failed), each
/// audited.
///
/// # Errors
///
/// [`ProcessError::Host`] if the queue cannot be written.
pub fn close_requests(
    lost: &[u64],
    human: &HumanQueue,
    audit: &AuditLog,
) -> Result<(), ProcessError> {
    let closed = human
        .close_lost(lost)
        .map_err(|e| ProcessError::Host(format!("closing the requests of lost processes: {e}")))?;
    for request in closed {
        let record = AuditRecord::decided_now(
            ("host", "human.expire", &request.subject_line()),
            Verdict::Deny,
            &format!(
                "process {} was lost with its host before a decision",
                request.pid
            ),
            Some(request.id.clone()),
        );
        AuditSink::append(audit, record);
    }
    Ok(())
}
