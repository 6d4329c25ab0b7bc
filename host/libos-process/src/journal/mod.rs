//! The journal of a process's primitive calls, as its host keeps it (storage: `libos-journal`).
//!
//! Every call a process makes through an imported primitive goes through [`calls`] first:
//! - a call that reads (or waits without changing anything outside: `process.wait`,
//!   `events.wait`, `human.request-approval`) runs and is appended, committed, with its result;
//! - an external effect is appended `prepared` with its intent and runs only once that entry
//!   is durable; its result is settled onto the entry afterwards.
//!
//! A result is given to the guest as soon as it is known; the entry is durable before anything
//! the guest does next can be seen outside, because every effect waits for its own entry and
//! the writer commits entries in the order they were handed over. (A crash can lose a read
//! made after the last effect; the resumed process makes it again, and nothing outside saw
//! the difference.)
//!
//! A resumed process replays: its calls are answered, in order, from the entries of its
//! earlier run ([`CallJournal::resuming`]); each must be the same function with the same
//! arguments (argument digest), or the process fails with a [`Divergence`] and nothing is
//! executed. An effect found `prepared` (the host died while it was under way) is in doubt:
//! see `doubt.rs`.

pub(crate) mod calls;
mod doubt;
pub(crate) mod snapshot;
pub(crate) mod wasi;

use std::collections::VecDeque;
use std::sync::Arc;

use libos_journal::{EffectState, Entry, Journal, JournalError, Pending};

use crate::budget::{Budget, Charges};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A primitive call as the journal knows it: which function, and the digest of its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) interface: &'static str,
    pub(crate) function: &'static str,
    pub(crate) digest: [u8; 32],
}

impl Call {
    /// The call of `interface`.`function` with `args` (any serializable tuple).
    pub(crate) fn new(
        interface: &'static str,
        function: &'static str,
        args: &impl Serialize,
    ) -> wasmtime::Result<Call> {
        let bytes = postcard::to_allocvec(args)
            .map_err(|e| JournalTrap::Encode(format!("{interface}.{function} arguments: {e}")))?;
        let mut hash = Sha256::new();
        hash.update(interface.as_bytes());
        hash.update([0]);
        hash.update(function.as_bytes());
        hash.update([0]);
        hash.update(&bytes);
        Ok(Call {
            interface,
            function,
            digest: hash.finalize().into(),
        })
    }

    pub(crate) fn name(&self) -> String {
        format!("{}.{}", short(self.interface), self.function)
    }
}

/// What the entries before `from` were charged: from the last snapshot among them (which
/// holds everything charged before it) on.
pub(crate) fn earlier_charges(entries: &[Entry], from: u64) -> Option<Charges> {
    let mut total: Charges = [0; 5];
    for entry in entries.iter().filter(|e| e.seq < from) {
        let Some((Some(charges), _)) = entry.result.as_deref().map(split_result) else {
            continue;
        };
        if snapshot::is_snapshot(entry) {
            total = charges;
        } else {
            for (t, c) in total.iter_mut().zip(charges) {
                *t = t.saturating_add(c);
            }
        }
    }
    total.iter().any(|t| *t > 0).then_some(total)
}

/// What the entries of `entries` after `upto` were charged (a restore to a checkpoint that
/// ends at `upto` deletes them). A snapshot after `upto` that deleted entries before it
/// makes this count them too: never less than what was spent.
pub(crate) fn charges_after(entries: &[Entry], upto: u64) -> Option<Charges> {
    let all = earlier_charges(entries, u64::MAX)?;
    let kept = earlier_charges(entries, upto.saturating_add(1)).unwrap_or([0; 5]);
    let mut after: Charges = [0; 5];
    for i in 0..5 {
        after[i] = all[i].saturating_sub(kept[i]);
    }
    after.iter().any(|a| *a > 0).then_some(after)
}

/// The monotonic clock reading `entry` gave the process, if it is one.
fn monotonic_reading(entry: &Entry) -> Option<u64> {
    let (_, value) = split_result(entry.result.as_deref()?);
    match (entry.interface.as_str(), entry.function.as_str()) {
        ("wasi:clocks/monotonic-clock", "now") => postcard::from_bytes::<u64>(value).ok(),
        ("libos:runtime/clock", "monotonic") => {
            postcard::from_bytes::<Result<u64, libos::bindings::RuntimeError>>(value)
                .ok()
                .and_then(Result::ok)
        }
        _ => None,
    }
}

/// An entry's call, for a divergence: `fs.write (arguments 0a1b2c3d4e5f)`.
fn described(entry: &Entry) -> String {
    format!(
        "{}.{} (arguments {})",
        short(&entry.interface),
        entry.function,
        hex::encode(&entry.args_digest[..6])
    )
}

/// `libos:runtime/fs` as `fs`; a WASI interface whole.
fn short(interface: &str) -> &str {
    interface
        .strip_prefix("libos:runtime/")
        .unwrap_or(interface)
}

/// What the host fixed before dispatching an effect, stored with its `prepared` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Intent {
    /// A short description of the call for a person (`libos effects`, in-doubt questions).
    pub(crate) preview: String,
    /// For a sleep: when it wakes (nanoseconds since the Unix epoch on the host's clock).
    pub(crate) wake_ns: Option<u64>,
    /// For a question: the id it is asked under, fixed before it is asked.
    pub(crate) request: Option<String>,
}

/// The description of an effect stored with its intent (`libos effects`); empty if there is
/// none or it cannot be read.
pub fn intent_preview(intent: &[u8]) -> String {
    postcard::from_bytes::<Intent>(intent)
        .map(|i| i.preview)
        .unwrap_or_default()
}

/// How a call begins.
pub(crate) enum Begun {
    /// Answered from the journal: the encoded result.
    Replayed(Vec<u8>),
    /// To run now; its result settles the entry.
    Live(Ticket),
}

/// Notes in a process's journal which grant let its effect through ([`libos::approval::NoteGrant`]).
pub(crate) struct GrantsUsed {
    store: Arc<Journal>,
    pid: u64,
}

impl GrantsUsed {
    pub(crate) fn new(store: Arc<Journal>, pid: u64) -> GrantsUsed {
        GrantsUsed { store, pid }
    }
}

impl libos::approval::NoteGrant for GrantsUsed {
    fn note(&self, entry: u64, grant: u64) -> Result<(), String> {
        // Rare (a person's approval is being used) and before an effect: this thread waits.
        self.store
            .note_grant((self.pid, entry), grant)
            .wait_here()
            .map_err(|e| e.to_string())
    }
}

impl Ticket {
    /// The number of its entry.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}

/// A call being run live: where its result goes.
pub(crate) struct Ticket {
    seq: u64,
    /// Its entry exists already (`prepared` or in doubt), from `from`; else it is appended.
    from: Option<&'static [EffectState]>,
    to: EffectState,
    /// The intent the entry holds (for an effect run again after a crash, the first run's).
    pub(crate) intent: Intent,
    /// What the process's own calls were charged when the call began.
    charged_before: Option<Charges>,
}

/// Why the journal stopped a process (a trap: the process fails with this reason).
#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalTrap {
    /// The replayed process did not make the call its journal holds.
    #[error(transparent)]
    Divergence(#[from] Divergence),
    /// An entry could not be stored (nothing was executed past it).
    #[error("journal: {0}")]
    Store(#[from] JournalError),
    /// A value could not be encoded or a stored one decoded.
    #[error("journal: {0}")]
    Encode(String),
    /// A call of an interface with no error to return found the journal full.
    #[error(
        "journal full: {call} needs an entry past the image's max_journal_bytes ({max} bytes), \
         and has no error to return"
    )]
    Full { call: String, max: u64 },
    /// A replay met the entry where the process first used what no journal keeps.
    #[error(
        "cannot be resumed: at entry {seq} it called {call} (WASI files or network), whose \
         results no journal keeps; it was failed rather than run on past it"
    )]
    Unreplayable { seq: u64, call: String },
}

/// A replayed call that is not the one the journal holds at its place.
#[derive(Debug, thiserror::Error)]
#[error(
    "journal divergence at entry {seq}: the process called {called} where the journal holds \
     {recorded}; nothing was executed"
)]
pub(crate) struct Divergence {
    pub(crate) seq: u64,
    pub(crate) called: String,
    pub(crate) recorded: String,
}

/// The journal of one process: the number of its next call, and the calls of an earlier run
/// still to be answered.
pub(crate) struct CallJournal {
    store: Arc<Journal>,
    pid: u64,
    next: u64,
    replay: VecDeque<Entry>,
    /// The last change handed over without waiting, and how many were since the last wait.
    unconfirmed: Option<Pending>,
    ahead: u32,
    /// Whether the process ran on a host before this one (its calls past the journal may
    /// have happened, their entries lost with that host).
    resumed: bool,
    /// The process's budget: what each call was charged is kept with its result, and charged
    /// again when the call is replayed.
    budget: Option<Arc<Budget>>,
    /// About how many bytes its entries hold, and the most a read may start at
    /// (`max_journal_bytes`).
    bytes: u64,
    max_bytes: u64,
    /// The barrier children spawned since wait for (stored once every entry before it is),
    /// and whether an entry other than a successful spawn was handed over since it was made
    /// (a successful spawn needs no barrier of its own: its child is found by its key).
    barrier: Option<libos_journal::SharedPending>,
    since_barrier: bool,
    /// The monotonic clock as the process saw it: the latest reading it was given, and what
    /// is added to this host's clock so that it never reads less (see
    /// [`CallJournal::monotonic`]).
    monotonic_seen: u64,
    monotonic_shift: Option<u64>,
    /// The entry at which the process first called what no journal keeps (WASI files and
    /// network, `wasi/boundary.rs`), in this run.
    left_at: Option<u64>,
    /// The snapshot its replay starts from (`snapshot.rs`), until the instance takes it, and
    /// what the process had been charged when it was taken.
    restored: Option<snapshot::Restored>,
    restored_charges: Option<Charges>,
    /// What the calls of the images it ran before its current one were charged.
    earlier_charges: Option<Charges>,
    /// What calls a restore took out of its journal had been charged (stored with the
    /// process: `ProcessTable::discarded_charges`), set by its resumer.
    pub(crate) discarded_charges: Option<Charges>,
    /// Whether a replayed call is charged again what it was charged (not for a process that
    /// goes on with the budget it had: [`CallJournal::continuing`]).
    replay_charges: bool,
}

/// About what an entry costs besides its intent and result (keys, names, digest).
const ENTRY_OVERHEAD: u64 = 64;

/// A value a read gives instead of running when its process's journal is full: a typed
/// error for the calls that return one; `None` for the few that cannot fail (and return
/// little), which run.
pub(crate) trait WhenFull: Sized {
    fn when_full() -> Option<Self>;
}

impl<T> WhenFull for Result<T, libos::bindings::RuntimeError> {
    fn when_full() -> Option<Self> {
        Some(Err(libos::bindings::RuntimeError::LimitExceeded(
            libos::error::LimitKind::Storage.into(),
        )))
    }
}

impl<T> WhenFull for Result<T, libos::bindings::libos::runtime::types::ToolError> {
    fn when_full() -> Option<Self> {
        Some(Err(
            libos::bindings::libos::runtime::types::ToolError::Runtime(
                libos::bindings::RuntimeError::LimitExceeded(
                    libos::error::LimitKind::Storage.into(),
                ),
            ),
        ))
    }
}

/// `events.wait` with the topic's cursor after it.
impl<T, C> WhenFull for (Result<T, libos::bindings::RuntimeError>, Option<C>) {
    fn when_full() -> Option<Self> {
        WhenFull::when_full().map(|r| (r, None))
    }
}

macro_rules! never_full {
    ($($t:ty),*) => {$(
        impl WhenFull for $t {
            fn when_full() -> Option<Self> {
                None
            }
        }
    )*};
}
never_full!(
    (),
    crate::bindings::libos::runtime::process::ProcessInfo,
    Vec<libos::bindings::libos::runtime::types::ToolInfo>
);

/// How many entries a process may append without waiting before it waits for the journal to
/// catch up (a process that only reads would otherwise outrun the writer without bound).
const MAX_AHEAD: u32 = 256;

impl CallJournal {
    /// The journal of a new process (nothing to replay).
    pub(crate) fn new(store: Arc<Journal>, pid: u64) -> CallJournal {
        CallJournal::with(store, pid, 1, VecDeque::new(), false)
    }

    fn with(
        store: Arc<Journal>,
        pid: u64,
        next: u64,
        replay: VecDeque<Entry>,
        resumed: bool,
    ) -> CallJournal {
        let bytes = replay.iter().map(entry_bytes).sum();
        CallJournal {
            store,
            pid,
            next,
            replay,
            unconfirmed: None,
            ahead: 0,
            resumed,
            budget: None,
            bytes,
            max_bytes: u64::MAX,
            barrier: None,
            since_barrier: false,
            monotonic_seen: 0,
            monotonic_shift: None,
            left_at: None,
            restored: None,
            restored_charges: None,
            earlier_charges: None,
            discarded_charges: None,
            replay_charges: true,
        }
    }

    /// Makes a read that starts once the journal holds `max` bytes or more fail
    /// ([`WhenFull`]).
    pub(crate) fn limited(mut self, max: u64) -> CallJournal {
        self.max_bytes = max;
        self
    }

    /// Whether a call starting now is refused ([`CallJournal::limited`]): only once the
    /// journal is replayed (a replayed call is answered as it was).
    pub(crate) fn full(&self) -> bool {
        self.replay.is_empty() && self.bytes >= self.max_bytes
    }

    /// The most its entries may hold before calls are refused ([`CallJournal::limited`]).
    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Keeps what each call is charged to `budget` with its result (and charges it again
    /// when the call is replayed).
    /// Keeps what each call is charged to `budget`, which already holds what the process
    /// spent (it was stopped on this host and goes on): nothing replayed is charged again.
    pub(crate) fn continuing(mut self, budget: Arc<Budget>) -> CallJournal {
        self.restored_charges = None;
        self.earlier_charges = None;
        self.discarded_charges = None;
        self.replay_charges = false;
        self.budget = Some(budget);
        self
    }

    /// A snapshot the replay starts from is charged at once with what the process had spent
    /// when it was taken.
    pub(crate) fn charging(mut self, budget: Arc<Budget>) -> CallJournal {
        if let Some(charges) = self.restored_charges.take() {
            budget.replay(&charges);
        }
        if let Some(charges) = self.earlier_charges.take() {
            budget.replay(&charges);
        }
        if let Some(charges) = self.discarded_charges.take() {
            budget.replay(&charges);
        }
        self.budget = Some(budget);
        self
    }

    /// The journal of a process resumed from entry `from` (its current image's first):
    /// the entries from there are answered in order, then it goes on live.
    ///
    /// # Errors
    /// When the entries cannot be read.
    pub(crate) fn resuming(
        store: Arc<Journal>,
        pid: u64,
        from: u64,
    ) -> Result<CallJournal, JournalError> {
        let mut entries = store.entries_from(pid, from)?;
        let next = entries.last().map_or(from, |e| e.seq + 1);
        // A replay starts after the last snapshot, from the state it holds.
        let mut found = None;
        if let Some(at) = entries.iter().rposition(snapshot::is_snapshot) {
            let entry = entries.remove(at);
            let stored = entry.result.as_deref().unwrap_or_default();
            let (charges, value) = split_result(stored);
            let restored: snapshot::Restored = postcard::from_bytes(value).map_err(|e| {
                JournalError::Store(format!(
                    "process {pid}: the snapshot at entry {} cannot be read: {e}",
                    entry.seq
                ))
            })?;
            // A host that died between the snapshot and its compaction left entries before
            // it: compacted now (in the writer's order, before anything this run hands over).
            if at > 0 {
                let _compacted = store.compact(pid, entry.seq);
            }
            entries.drain(..at);
            found = Some((restored, charges));
        }
        // What the calls of the images it ran before (`exec`) were charged: not replayed,
        // charged at once (a snapshot of this image holds them already).
        let earlier = if from > 1 && found.is_none() {
            earlier_charges(&store.entries(pid)?, from)
        } else {
            None
        };
        let mut journal = CallJournal::with(store, pid, next, entries.into(), true);
        journal.earlier_charges = earlier;
        journal.monotonic_seen = journal
            .replay
            .iter()
            .filter_map(monotonic_reading)
            .max()
            .unwrap_or(0);
        if let Some((restored, charges)) = found {
            journal.bytes = journal.bytes.saturating_add(restored.bytes());
            journal.monotonic_seen = journal.monotonic_seen.max(restored.monotonic);
            journal.restored = Some(restored);
            journal.restored_charges = charges;
        }
        Ok(journal)
    }

    /// The number the next call gets (the first entry of an image `exec`ed into now).
    pub(crate) fn next_seq(&self) -> u64 {
        self.next
    }

    /// Fixes, as a run of the process starts on this host (whose monotonic clock reads
    /// `raw`), what is added to the clock: the latest reading its journal holds goes on from
    /// now (the clock does not count the time no host ran it). Once per journal.
    pub(crate) fn start_monotonic(&mut self, raw: u64) {
        self.monotonic_shift
            .get_or_insert(self.monotonic_seen.saturating_sub(raw));
    }

    /// A reading `raw` of this host's monotonic clock as the process is given it: never less
    /// than a reading it was given before, on this host or the one it ran on before (whose
    /// clock started elsewhere; see [`CallJournal::start_monotonic`]).
    pub(crate) fn monotonic(&mut self, raw: u64) -> u64 {
        let shift = *self
            .monotonic_shift
            .get_or_insert(self.monotonic_seen.saturating_sub(raw));
        let value = raw.saturating_add(shift).max(self.monotonic_seen);
        self.monotonic_seen = value;
        value
    }

    /// The latest monotonic reading the process was given.
    pub(crate) fn monotonic_seen(&self) -> u64 {
        self.monotonic_seen
    }

    /// Notes a monotonic reading the process was given (a replayed one too).
    pub(crate) fn saw_monotonic(&mut self, value: u64) {
        self.monotonic_seen = self.monotonic_seen.max(value);
    }

    /// The entry at which this run first called what no journal keeps, if it did.
    pub(crate) fn left_at(&self) -> Option<u64> {
        self.left_at
    }

    /// Notes that it did, at `seq`.
    pub(crate) fn left(&mut self, seq: u64) {
        self.left_at = Some(seq);
    }

    /// Waits, blocking this thread, until everything handed over is stored (for a caller
    /// that cannot wait asynchronously).
    pub(crate) fn stored_here(&mut self) -> wasmtime::Result<()> {
        self.ahead = 0;
        if let Some(pending) = self.unconfirmed.take() {
            pending.wait_here().map_err(JournalTrap::Store)?;
        }
        Ok(())
    }

    /// What the process's own calls were charged so far, if its budget is kept.
    pub(crate) fn charged_now(&self) -> Option<Charges> {
        self.budget.as_ref().map(|b| b.own())
    }

    /// What a child spawned now waits for before it runs any code: a barrier stored once
    /// every entry this process handed over before is (`None`: all are stored already).
    pub(crate) fn spawn_barrier(&mut self) -> Option<libos_journal::SharedPending> {
        // Nothing handed over is waiting to be stored.
        self.unconfirmed.as_ref()?;
        if self.since_barrier || self.barrier.is_none() {
            self.barrier = Some(self.store.barrier());
            self.since_barrier = false;
        }
        self.barrier.clone()
    }

    /// Says that an entry other than a successful spawn was handed over (see `barrier`).
    pub(crate) fn not_a_spawn(&mut self) {
        self.since_barrier = true;
    }

    /// Whether the process ran on another host before (see the field).
    pub(crate) fn resumed(&self) -> bool {
        self.resumed
    }

    /// The next recorded entry, if replaying, checked against `call`.
    fn recorded(&mut self, call: &Call) -> Result<Option<Entry>, Divergence> {
        let Some(entry) = self.replay.pop_front() else {
            return Ok(None);
        };
        if entry.interface != call.interface
            || entry.function != call.function
            || entry.args_digest != call.digest
        {
            let seq = entry.seq;
            let recorded = described(&entry);
            // Nothing more is answered from a journal the process left.
            self.replay.clear();
            return Err(Divergence {
                seq,
                called: format!(
                    "{} (arguments {})",
                    call.name(),
                    hex::encode(&call.digest[..6])
                ),
                recorded,
            });
        }
        let mut entry = entry;
        if let Some(stored) = entry.result.take() {
            let (charges, value) = split_result(&stored);
            if let (Some(charges), Some(budget), true) =
                (charges, &self.budget, self.replay_charges)
            {
                budget.replay(&charges);
            }
            entry.result = Some(value.to_vec());
        }
        Ok(Some(entry))
    }

    /// If the process's `run` returned while entries of its journal were still to be
    /// replayed, the divergence: the journal holds a call where the process ended.
    pub(crate) fn ended_early(&mut self) -> Option<Divergence> {
        let entry = self.replay.pop_front()?;
        self.replay.clear();
        Some(Divergence {
            seq: entry.seq,
            called: "nothing more (its run returned)".to_owned(),
            recorded: described(&entry),
        })
    }

    /// Begins a call that reads: answered from the journal, or run live and then appended.
    pub(crate) fn read(&mut self, call: &Call) -> wasmtime::Result<Begun> {
        match self.recorded(call)? {
            Some(Entry {
                result: Some(result),
                ..
            }) => Ok(Begun::Replayed(result)),
            Some(entry) => Err(JournalTrap::Encode(format!(
                "entry {} ({}) has no result",
                entry.seq,
                call.name()
            ))
            .into()),
            None => Ok(Begun::Live(self.take(None, EffectState::Committed))),
        }
    }

    /// A ticket for the next number, whose entry `from` says exists or not.
    fn take(&mut self, from: Option<&'static [EffectState]>, to: EffectState) -> Ticket {
        let seq = self.next;
        self.next += 1;
        Ticket {
            seq,
            from,
            to,
            intent: Intent::default(),
            charged_before: self.budget.as_ref().map(|b| b.own()),
        }
    }

    /// Stores `value` as the result of the call of `ticket`: appended (a read) or settled onto
    /// its entry (an effect). Not waited for (see the module docs).
    pub(crate) fn settle(
        &mut self,
        ticket: Ticket,
        call: &Call,
        value: &impl Serialize,
    ) -> wasmtime::Result<()> {
        let charges = match (&self.budget, ticket.charged_before) {
            (Some(budget), Some(before)) => {
                let now = budget.own();
                let mut delta: Charges = [0; 5];
                for i in 0..5 {
                    delta[i] = now[i].saturating_sub(before[i]);
                }
                delta.iter().any(|d| *d > 0).then_some(delta)
            }
            _ => None,
        };
        let result = stored_result(charges, &encode(value)?);
        self.bytes = self
            .bytes
            .saturating_add(ENTRY_OVERHEAD + result.len() as u64);
        let pending = match ticket.from {
            None => self.store.append(Entry::committed(
                self.pid,
                ticket.seq,
                (call.interface, call.function),
                call.digest,
                result,
            )),
            Some(from) => self
                .store
                .settle((self.pid, ticket.seq), from, ticket.to, Some(result)),
        };
        self.unconfirmed = Some(pending);
        self.ahead += 1;
        if !(call.interface == "libos:runtime/process" && call.function == "spawn") {
            self.since_barrier = true;
        }
        Ok(())
    }

    /// Waits for the journal to store what this process handed over, once it is
    /// [`MAX_AHEAD`] entries ahead of it.
    pub(crate) async fn keep_up(&mut self) -> wasmtime::Result<()> {
        if self.ahead < MAX_AHEAD {
            return Ok(());
        }
        self.ahead = 0;
        if let Some(pending) = self.unconfirmed.take() {
            pending.stored().await.map_err(JournalTrap::Store)?;
        }
        self.barrier = None;
        self.since_barrier = false;
        Ok(())
    }

    /// Notes that everything handed over so far is stored (the writer keeps the order): no
    /// entry waits to be confirmed, and a child spawned next needs a barrier of its own.
    fn everything_stored(&mut self) {
        self.unconfirmed = None;
        self.ahead = 0;
        self.barrier = None;
        self.since_barrier = true;
    }

    /// Appends the intent of an effect about to run live and waits until it is durable.
    async fn prepare(&mut self, call: &Call, intent: Intent) -> wasmtime::Result<Ticket> {
        let mut ticket = self.take(Some(&[EffectState::Prepared]), EffectState::Committed);
        self.store
            .append(Entry {
                pid: self.pid,
                seq: ticket.seq,
                interface: call.interface.to_owned(),
                function: call.function.to_owned(),
                args_digest: call.digest,
                intent: encode(&intent)?,
                result: None,
                state: EffectState::Prepared,
                grant: None,
            })
            .stored()
            .await
            .map_err(JournalTrap::Store)?;
        // Everything before it is stored too; its own entry is settled later (no spawn).
        self.everything_stored();
        ticket.intent = intent;
        Ok(ticket)
    }
}

/// How an effect found in doubt after a crash is settled.
#[derive(Clone, Copy)]
pub(crate) enum Doubt {
    /// Run it again: it is safe to (a sleep to its stored wake time, a compare-and-swap
    /// against the recorded version, a question asked again).
    Redo,
    /// Ask a person: did it happen? `done` is the encoded result to give the guest if it did
    /// (`None`: the call returns a value nobody knows, so "it happened" is not offered);
    /// `failed` encodes the error the guest gets if it is failed.
    Ask {
        done: Option<fn() -> Vec<u8>>,
        failed: fn(String) -> Vec<u8>,
    },
}

/// A result as the journal stores it: what the call was charged (`None`: nothing), then the
/// encoded value.
pub(crate) fn stored_result(charges: Option<Charges>, value: &[u8]) -> Vec<u8> {
    let Some(charges) = charges else {
        // `None`, then the value: the common case, one allocation.
        let mut out = Vec::with_capacity(1 + value.len());
        out.push(0);
        out.extend_from_slice(value);
        return out;
    };
    let mut out = postcard::to_allocvec(&Some(charges)).unwrap_or_else(|_| vec![0]);
    out.extend_from_slice(value);
    out
}

/// A stored result split into its charges and its encoded value ([`stored_result`]).
fn split_result(stored: &[u8]) -> (Option<Charges>, &[u8]) {
    match postcard::take_from_bytes::<Option<Charges>>(stored) {
        Ok((charges, value)) => (charges, value),
        Err(_) => (None, stored),
    }
}

/// About the bytes `entry` holds.
fn entry_bytes(entry: &Entry) -> u64 {
    ENTRY_OVERHEAD + entry.intent.len() as u64 + entry.result.as_ref().map_or(0, |r| r.len() as u64)
}

/// The encoding of `value` as stored.
pub(crate) fn encode(value: &impl Serialize) -> wasmtime::Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| JournalTrap::Encode(e.to_string()).into())
}

/// A stored result read back as the result of `call`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], call: &Call) -> wasmtime::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| {
        JournalTrap::Encode(format!(
            "a stored result cannot be read as the result of {}: {e}",
            call.name()
        ))
        .into()
    })
}

impl crate::ctx::ProcessCtx {
    /// Begins an external effect: answered from the journal; settled by a person or run
    /// again if it is in doubt (see `doubt.rs`); or, live, its intent made durable first.
    pub(crate) async fn begin_effect(
        &mut self,
        call: &Call,
        intent: Intent,
        doubt: Doubt,
    ) -> wasmtime::Result<Begun> {
        match self.journal.recorded(call)? {
            None => Ok(Begun::Live(self.journal.prepare(call, intent).await?)),
            Some(entry) => match (&entry.result, entry.state) {
                (Some(result), _) => Ok(Begun::Replayed(result.clone())),
                (None, EffectState::Prepared | EffectState::Unknown) => {
                    self.in_doubt(call, entry, doubt).await
                }
                (None, state) => Err(JournalTrap::Encode(format!(
                    "entry {} ({}) is {state} without a result",
                    entry.seq,
                    call.name()
                ))
                .into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_never_runs_back_across_hosts() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(Journal::open(&dir.path().join("j.db"))?);
        // A new process reads this host's clock as it is.
        let mut fresh = CallJournal::new(Arc::clone(&store), 1);
        assert_eq!(fresh.monotonic(500), 500);
        assert_eq!(fresh.monotonic(700), 700);
        // A resumed one was given 10_000 on the host before, whose clock started earlier:
        // it goes on from 10_000 when it starts here (at this host's 150).
        let mut resumed = CallJournal::new(store, 2);
        resumed.saw_monotonic(10_000);
        resumed.start_monotonic(150);
        // It slept 50 since it started on this host: the clock went on meanwhile.
        assert_eq!(resumed.monotonic(200), 10_050);
        assert_eq!(resumed.monotonic(250), 10_100);
        // A clock that jumps back is held where it was.
        assert_eq!(resumed.monotonic(100), 10_100);
        Ok(())
    }
}
