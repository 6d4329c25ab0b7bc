//! What a host does first: recover what dead hosts left on the state directory. Their live
//! processes are marked failed (`host lost`), and the requests those processes left waiting
//! for a person are closed, each closing audited as `human.expire` by the host.

use std::path::Path;

use libos_audit::{AuditLog, AuditRecord, AuditSink, Verdict};
use libos_human::HumanQueue;
use libos_proctable::{HostLease, ProcessTable};

use crate::error::ProcessError;

/// Recovers the processes of every dead host of `hosts` (and any `own` lease left stale),
/// closing their pending requests; returns the pids marked failed.
///
/// # Errors
///
/// [`ProcessError::Host`] if the table or the queue cannot be written.
pub(crate) fn recover(
    table: &ProcessTable,
    hosts: &Path,
    own: &HostLease,
    human: &HumanQueue,
    audit: &AuditLog,
) -> Result<Vec<u64>, ProcessError> {
    let mut lost = Vec::new();
    for dead in libos_proctable::hosts::recover(table, hosts, Some(own))? {
        tracing::warn!(host = %dead.host, processes = dead.pids.len(), "processes of a dead host marked failed");
        lost.extend(dead.pids);
    }
    close_requests(&lost, human, audit)?;
    Ok(lost)
}

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
