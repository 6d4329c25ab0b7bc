//! The states a process can be in, and what a blocked process waits for.
//!
//! Which state may follow which is decided by [`crate::lifecycle::check`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a [`State::Blocked`] process is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedOn {
    /// A child process (by pid) to end.
    Child(u64),
    /// A named event to be signalled.
    Event(String),
    /// A message to arrive in its mailbox.
    Message,
    /// A timer to expire.
    Sleep,
    /// A named tool call to complete.
    Tool(String),
    /// A human to answer the given prompt or request.
    Human(String),
}

impl fmt::Display for BlockedOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockedOn::Child(pid) => write!(f, "child {pid}"),
            BlockedOn::Event(name) => write!(f, "event {name:?}"),
            BlockedOn::Message => f.write_str("message"),
            BlockedOn::Sleep => f.write_str("sleep"),
            BlockedOn::Tool(name) => write!(f, "tool {name:?}"),
            BlockedOn::Human(request) => write!(f, "human {request:?}"),
        }
    }
}

/// The lifecycle state of one process.
///
/// The live states are `Created`, `Ready`, `Running`, `Blocked` and `Paused`; the ended states
/// are `Exited`, `Failed` and `Killed`, and no transition leaves them.
///
/// Serialized (JSON) with snake_case variant names, e.g. `"running"`,
/// `{"blocked":{"child":7}}`, `{"paused":{"was":"ready"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Registered, not yet instantiated by a host.
    Created,
    /// Instantiated and waiting for a time slice.
    Ready,
    /// Currently executing.
    Running,
    /// Waiting for something outside itself.
    Blocked(BlockedOn),
    /// Suspended by an operator or parent; resuming returns to `was`.
    Paused {
        /// The state the process was in when it was paused (never `Paused` or ended).
        was: Box<State>,
    },
    /// Finished on its own with a final output.
    Exited {
        /// The process's final output.
        output: String,
    },
    /// Ended by an error (a trap, or a host unable to instantiate or continue it).
    Failed {
        /// Why the process failed.
        reason: String,
    },
    /// Ended from outside.
    Killed,
}

impl State {
    /// The state of a process paused while in `from`.
    pub fn paused_from(from: State) -> State {
        State::Paused {
            was: Box::new(from),
        }
    }

    /// Whether the process can still change state (every state except the ended ones).
    pub fn is_live(&self) -> bool {
        !self.is_ended()
    }

    /// Whether the process has ended (`Exited`, `Failed` or `Killed`).
    pub fn is_ended(&self) -> bool {
        matches!(
            self,
            State::Exited { .. } | State::Failed { .. } | State::Killed
        )
    }

    /// The state's lowercase name without its details: `created`, `ready`, `running`,
    /// `blocked`, `paused`, `exited`, `failed` or `killed`.
    pub fn name(&self) -> &'static str {
        match self {
            State::Created => "created",
            State::Ready => "ready",
            State::Running => "running",
            State::Blocked(_) => "blocked",
            State::Paused { .. } => "paused",
            State::Exited { .. } => "exited",
            State::Failed { .. } => "failed",
            State::Killed => "killed",
        }
    }
}

/// The names of the live states, as returned by [`State::name`].
pub const LIVE_STATE_NAMES: [&str; 5] = ["created", "ready", "running", "blocked", "paused"];

/// Shows the name with the details that identify the state, e.g. `blocked(child 7)`,
/// `paused(running)`, `failed("out of fuel")`. An exited process's output is not shown.
impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Blocked(on) => write!(f, "blocked({on})"),
            State::Paused { was } => write!(f, "paused({was})"),
            State::Failed { reason } => write!(f, "failed({reason:?})"),
            other => f.write_str(other.name()),
        }
    }
}
