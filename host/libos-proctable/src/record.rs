//! What the process table stores about a process and its state changes.

use serde::{Deserialize, Serialize};

use crate::state::State;

/// The request to register a new process (see [`crate::ProcessTable::create`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProcess {
    /// The parent's pid; `None` makes the process the root of a new tree.
    pub parent: Option<u64>,
    /// The image it runs, as `name:version`.
    pub image: String,
    /// The digest of the image's content.
    pub image_digest: String,
    /// Its working directory.
    pub cwd: String,
    /// The capabilities it is granted.
    pub capabilities: Vec<String>,
    /// The id of the host that runs it (its lease, see [`crate::hosts`]), e.g. `"libos@1234"`.
    pub host: String,
    /// The digests of the images whose policies decide for it, its own first, then those it
    /// inherits (its parent's chain, the images it `exec`ed away from); empty: not recorded.
    pub policy_chain: Vec<String>,
    /// How another host can resume it if this one dies (stored with its start); `None`: it
    /// cannot be resumed.
    pub resume: Option<crate::Resume>,
}

/// One process as stored in the table. Strings are stored and returned exactly as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Its pid, never reused.
    pub pid: u64,
    /// Its parent's pid, `None` for the root of a tree.
    pub parent: Option<u64>,
    /// The pid of its tree's root (its own pid if it has no parent).
    pub root: u64,
    /// The image it runs, as `name:version`.
    pub image: String,
    /// The digest of the image's content.
    pub image_digest: String,
    /// Its current lifecycle state.
    pub state: State,
    /// Its working directory.
    pub cwd: String,
    /// The capabilities it is granted.
    pub capabilities: Vec<String>,
    /// The id of the host that runs it, e.g. `"libos@1234"` (see [`crate::hosts`]).
    pub host: String,
    /// When it was created, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// When its row last changed, in nanoseconds since the Unix epoch.
    pub updated_ns: u64,
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRecord {
    /// The process that changed state.
    pub pid: u64,
    /// The change's number for this process, counting from 1.
    pub seq: u64,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// When it happened, in nanoseconds since the Unix epoch.
    pub time_ns: u64,
}

/// Which processes [`crate::ProcessTable::list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessFilter {
    /// Only processes in a live state.
    Live,
    /// Every process, ended ones included.
    All,
}

/// Which processes [`crate::ProcessTable::query`] returns: those meeting every condition
/// given, by ascending pid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessQuery {
    /// Only processes in a live state.
    pub live: bool,
    /// Only processes in one of these states (names as [`crate::State::name`] gives them);
    /// empty: any.
    pub states: Vec<String>,
    /// Only processes running this image: `NAME` (any version), `NAME:VERSION`, or
    /// `sha256:PREFIX` of its digest.
    pub image: Option<String>,
    /// Only the direct children of this process.
    pub parent: Option<u64>,
    /// Only the processes of this host (its id, as [`ProcessRecord::host`] gives it).
    pub host: Option<String>,
    /// At most this many (the lowest pids).
    pub limit: Option<u64>,
}

/// The processes of one host that must not run: what a host polls to apply `libos kill`,
/// `libos pause` and `libos resume` made from other terminals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Killed processes, ascending.
    pub killed: Vec<u64>,
    /// Paused processes, ascending.
    pub paused: Vec<u64>,
}
