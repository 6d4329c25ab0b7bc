//! The process lifecycle as a state machine: which state may follow which.

use crate::state::State;

/// A refused state change, naming both states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The state the process was in.
    pub from: State,
    /// The state it was asked to move to.
    pub to: State,
}

/// Checks that a process in `from` may move to `to`.
///
/// Allowed, and nothing else:
/// - `Created -> Ready`, `Ready -> Running`, `Running -> Ready` (time slice over);
/// - `Running -> Blocked(_)`, `Blocked(_) -> Ready`;
/// - `Running -> Exited | Failed`, and `Created | Ready | Blocked -> Failed`;
/// - any live state `-> Killed`;
/// - any live state `s` other than `Paused` `-> Paused { was: s }` (`was` must equal `s`);
/// - `Paused { was } -> *was` (resume) or `-> Killed`.
///
/// # Errors
///
/// [`TransitionError`] with both states if the change is not in that list; in particular
/// nothing leaves `Exited`, `Failed` or `Killed`.
pub fn check(from: &State, to: &State) -> Result<(), TransitionError> {
    if allowed(from, to) {
        Ok(())
    } else {
        Err(TransitionError {
            from: from.clone(),
            to: to.clone(),
        })
    }
}

fn allowed(from: &State, to: &State) -> bool {
    use State::{Blocked, Created, Exited, Failed, Killed, Paused, Ready, Running};
    if from.is_ended() {
        return false;
    }
    match (from, to) {
        (_, Killed) => true,
        (Paused { was }, resumed) => **was == *resumed,
        (_, Paused { was }) => **was == *from,
        (Created, Ready)
        | (Ready, Running)
        | (Running, Ready)
        | (Running, Blocked(_))
        | (Blocked(_), Ready)
        | (Running, Exited { .. })
        | (Created | Ready | Running | Blocked(_), Failed { .. }) => true,
        _ => false,
    }
}
