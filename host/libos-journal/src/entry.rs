//! One journaled primitive call.

/// Where a journaled call stands.
///
/// A call that reads (or is safe to run again) is appended once, `committed`, with its
/// result. An external effect is appended `prepared` (its intent, durable before it is
/// dispatched) and moved to `committed` with its result once it happened; a `prepared` entry
/// found by a host that adopts the process is in doubt: it is marked `unknown` and a person
/// says what became of it (`done`: it happened; `retried`: it is run again; `failed`: the
/// guest is told it failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EffectState {
    /// The intent is stored; the effect may or may not have happened.
    Prepared,
    /// The effect happened (or the call read) and its result is stored.
    Committed,
    /// Found prepared by a host that adopted the process: nobody knows whether it happened.
    Unknown,
    /// A person said it happened; the guest is given the result they allowed.
    Done,
    /// A person asked for it to be run again; its new result is stored.
    Retried,
    /// A person said it did not happen, or asked that the guest be told it failed.
    Failed,
}

impl EffectState {
    /// Every state, in the order of the docs.
    pub const ALL: [EffectState; 6] = [
        EffectState::Prepared,
        EffectState::Committed,
        EffectState::Unknown,
        EffectState::Done,
        EffectState::Retried,
        EffectState::Failed,
    ];

    /// The name stored and shown (`prepared`, `committed`, `unknown`, `done`, `retried`,
    /// `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            EffectState::Prepared => "prepared",
            EffectState::Committed => "committed",
            EffectState::Unknown => "unknown",
            EffectState::Done => "done",
            EffectState::Retried => "retried",
            EffectState::Failed => "failed",
        }
    }

    /// The state named `name`, if any.
    pub fn parse(name: &str) -> Option<EffectState> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for EffectState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A primitive call of a process and the result its guest was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The process.
    pub pid: u64,
    /// Its number among the process's calls, from 1, without gaps.
    pub seq: u64,
    /// The interface (`libos:runtime/fs`, `libos:runtime/time`).
    pub interface: String,
    /// The function (`read`, `now`).
    pub function: String,
    /// SHA-256 of the call's arguments: a replayed call must match it.
    pub args_digest: [u8; 32],
    /// What the host fixed before dispatching the call (a sleep's wake time; a short
    /// preview of the arguments for a person), encoded by the caller; may be empty.
    pub intent: Vec<u8>,
    /// The result as the guest received it (encoded by the caller); `None` while the call is
    /// prepared or in doubt.
    pub result: Option<Vec<u8>>,
    /// Where the call stands.
    pub state: EffectState,
    /// The grant (a person's approval) whose use let the effect through, noted before it
    /// ran ([`crate::Journal::note_grant`]); `None` when none was needed.
    pub grant: Option<u64>,
}

impl Entry {
    /// A committed entry: a call and its result, appended in one step.
    pub fn committed(
        pid: u64,
        seq: u64,
        (interface, function): (&str, &str),
        args_digest: [u8; 32],
        result: Vec<u8>,
    ) -> Entry {
        Entry {
            pid,
            seq,
            interface: interface.to_owned(),
            function: function.to_owned(),
            args_digest,
            intent: Vec::new(),
            result: Some(result),
            state: EffectState::Committed,
            grant: None,
        }
    }
}
