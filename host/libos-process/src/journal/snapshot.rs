//! Snapshots: a process hands its whole state to `process.snapshot`, and its journal is
//! compacted there. The state is stored as the entry of that call (with everything the
//! process had been charged, and the fuel it had burnt), then the committed entries before it
//! are deleted; both are stored before the call returns. A replay starts after the last
//! snapshot ([`CallJournal::resuming`]): the host calls the agent's export
//! `libos:runtime/restorable.restore(state)` on the new instance, charges the budget what the
//! snapshot says was spent, and runs `run`, whose calls are answered by the entries after it.
//! An agent that does not export `restorable` is refused a snapshot (it could never be
//! restored); without snapshots a checkpoint is a journal position.

use libos::bindings::RuntimeError;
use libos_journal::{EffectState, Entry};
use serde::{Deserialize, Serialize};

use super::{Call, CallJournal, ENTRY_OVERHEAD, JournalTrap, encode, stored_result};
use crate::ctx::ProcessCtx;

const INTERFACE: &str = "libos:runtime/process";
const FUNCTION: &str = "snapshot";
/// The interface a restorable agent exports.
pub(crate) const RESTORABLE: &str = "libos:runtime/restorable@0.1.0";

/// What a snapshot's entry holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Restored {
    /// The agent's state, as it handed it.
    pub(crate) state: Vec<u8>,
    /// The fuel the process had burnt (to its last time slice).
    pub(crate) fuel_burnt: u64,
    /// The latest monotonic clock reading it had been given (its clock goes on from there).
    pub(crate) monotonic: u64,
    /// The children it had started over its life (against `max_children`).
    pub(crate) children_started: u64,
}

impl Restored {
    /// About the bytes its entry holds.
    pub(crate) fn bytes(&self) -> u64 {
        ENTRY_OVERHEAD + self.state.len() as u64
    }
}

/// Whether `entry` is a stored snapshot.
pub(crate) fn is_snapshot(entry: &Entry) -> bool {
    entry.interface == INTERFACE && entry.function == FUNCTION && entry.result.is_some()
}

impl CallJournal {
    /// The snapshot the replay starts from, once (the instance restores it).
    pub(crate) fn take_restored(&mut self) -> Option<Restored> {
        self.restored.take()
    }

    /// Stores `restored` as the entry of `call`, with what the process was charged so far,
    /// then deletes the committed entries before it; returns once both are stored.
    async fn snapshot(&mut self, call: &Call, restored: &Restored) -> wasmtime::Result<()> {
        let ticket = self.take(None, EffectState::Committed);
        let charges = self.budget.as_ref().map(|b| b.own());
        let result = stored_result(charges, &encode(restored)?);
        let bytes = ENTRY_OVERHEAD + result.len() as u64;
        // Handed over in order: the compaction is committed after the entry, never before.
        let _entry = self.store.append(Entry::committed(
            self.pid,
            ticket.seq,
            (call.interface, call.function),
            call.digest,
            result,
        ));
        self.store
            .compact(self.pid, ticket.seq)
            .stored()
            .await
            .map_err(JournalTrap::Store)?;
        self.everything_stored();
        // What the journal holds now: the snapshot, and whatever a person still needs.
        self.bytes = bytes;
        Ok(())
    }
}

impl ProcessCtx {
    /// `process.snapshot` (see the module docs).
    pub(crate) async fn take_snapshot(
        &mut self,
        state: Vec<u8>,
    ) -> wasmtime::Result<Result<(), RuntimeError>> {
        let call = Call::new(INTERFACE, FUNCTION, &(&state,))?;
        // A replay that meets a snapshot (one it did not start after) finds it stored.
        if self.journal.recorded(&call)?.is_some() {
            return Ok(Ok(()));
        }
        if !self.restorable {
            return Ok(Err(RuntimeError::Invalid(format!(
                "this agent does not export {RESTORABLE}: its snapshot could never be restored"
            ))));
        }
        let restored = Restored {
            state,
            fuel_burnt: self.fuel_burnt,
            monotonic: self.journal.monotonic_seen(),
            children_started: self.children_started,
        };
        if restored.bytes() > self.journal.max_bytes() {
            return Ok(Err(RuntimeError::LimitExceeded(
                libos::error::LimitKind::Storage.into(),
            )));
        }
        self.journal.snapshot(&call, &restored).await?;
        Ok(Ok(()))
    }
}
