//! How a process ended.

use serde::Serialize;

/// The end of a process, as `wait` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum ExitStatus {
    /// `run` returned `ok` with this output.
    Exited(String),
    /// `run` returned `err`, trapped or ran out of a limit; why.
    Failed(String),
    /// It or an ancestor was killed.
    Killed,
}

impl ExitStatus {
    /// The status recorded in the process table, if the state is an ended one.
    pub fn of_state(state: &libos_proctable::State) -> Option<ExitStatus> {
        use libos_proctable::State;
        match state {
            State::Exited { output } => Some(ExitStatus::Exited(output.clone())),
            State::Failed { reason } => Some(ExitStatus::Failed(reason.clone())),
            State::Killed => Some(ExitStatus::Killed),
            _ => None,
        }
    }

    /// The process-table state for this status.
    pub fn to_state(&self) -> libos_proctable::State {
        use libos_proctable::State;
        match self {
            ExitStatus::Exited(output) => State::Exited {
                output: output.clone(),
            },
            ExitStatus::Failed(reason) => State::Failed {
                reason: reason.clone(),
            },
            ExitStatus::Killed => State::Killed,
        }
    }
}
