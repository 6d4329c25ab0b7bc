//! What a person does to processes from a terminal (`kill`, `pause`, `resume`, `emit`) is
//! recorded in the audit log as that person (`human:$USER`), before it happens: if the record
//! cannot be stored, nothing is done.

use std::path::Path;

use libos::state::StateDir;
use libos_audit::{AuditLog, AuditRecord, AuditSink, Verdict};

use super::exit::{Code, Failure};

/// The person at this terminal: `$USER`, else `$LOGNAME`, else `operator`.
pub(super) fn name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "operator".into())
}

/// Stores (durably) the record that the person at this terminal does `action` on `resource`,
/// for `reason`. Call it before acting.
///
/// # Errors
/// [`Code::Error`] if the audit log cannot be opened or the record cannot be stored.
pub(super) fn record(
    state_dir: Option<&Path>,
    action: &str,
    resource: &str,
    reason: &str,
) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let audit = AuditLog::open(&state.db_path())
        .map_err(|e| Failure::new(Code::Error, format!("audit log: {e}")))?;
    audit.append(AuditRecord::decided_now(
        (&format!("human:{}", name()), action, resource),
        Verdict::Allow,
        reason,
        None,
    ));
    audit.flush().map_err(|e| {
        Failure::new(
            Code::Error,
            format!("audit log: {e}; nothing was done, since it could not be recorded"),
        )
    })
}
