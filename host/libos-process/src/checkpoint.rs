//! Going back to a checkpoint (`libos checkpoint restore`).
//!
//! A checkpoint (`libos-journal` `checkpoint.rs`) is a prefix of a process's journal with a
//! [`CheckpointMeta`]. A restore is asked for in the process table (`process_restores`); the
//! host running the process applies it at its next table poll (the host that adopts an orphan,
//! before resuming it): it stops the process's task where it is (no end is recorded), waits
//! until the task is gone, replaces the process's journal from the checkpoint's first entry on
//! with the checkpoint's entries, records the image, capabilities and resume record of the
//! checkpoint (capabilities: those held then that it still holds now, never one taken away
//! since), drops the request, and resumes the process: its calls up to the checkpoint are
//! answered from the journal (nothing before it happens again), and it goes on live from
//! there. The process's own objects (`pid:N`) go back to what the checkpoint kept of them
//! (before the journal, so a host that stops in between does it again); what happened in the
//! world after the checkpoint stays (files, shared objects, events, children started since);
//! grants a person gave and the process used stay used.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use libos_proctable::{ProcessRecord, Resume, State};
use serde::{Deserialize, Serialize};

use crate::error::ProcessError;
use crate::kernel::Inner;

/// What a checkpoint keeps to start its process again (stored as JSON with it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// The image it ran, `name:version`.
    pub image: String,
    /// Its digest.
    pub image_digest: String,
    /// Its current directory, as shown to it.
    pub cwd: String,
    /// The capabilities it held.
    pub capabilities: Vec<String>,
    /// The digests of the images whose policies decided for it.
    pub policy_chain: Vec<String>,
    /// The input of its image's run.
    pub input: String,
    /// The working directory of its tree.
    pub workdir: String,
}

impl CheckpointMeta {
    /// Those of the checkpoint's capabilities that `now` still holds.
    pub fn still_held(&self, now: &[String]) -> Vec<String> {
        let now: HashSet<&String> = now.iter().collect();
        self.capabilities
            .iter()
            .filter(|c| now.contains(c))
            .cloned()
            .collect()
    }
}

/// What a process this host runs is stopped for (`Inner::stop_change_resume`).
pub(crate) enum Change {
    /// Going back to checkpoint N.
    Restore(u64),
    /// Going on with the image of this digest (`upgrade.rs`).
    Upgrade(String),
}

impl Inner {
    /// Applies the restores asked for the processes this host runs (see the module docs).
    /// And the upgrades (`upgrade.rs`).
    pub(crate) async fn apply_restores(self: &Arc<Self>) {
        if self.lock_running().is_empty() {
            return;
        }
        self.apply_upgrades().await;
        let Ok(pending) = self.table.pending_restores() else {
            return;
        };
        for (pid, checkpoint) in pending {
            self.stop_change_resume(pid, Change::Restore(checkpoint))
                .await;
        }
    }

    /// Stops `pid` if this host runs it, applies `change` to its records and resumes it with
    /// its budget; if that fails, the process is failed naming the change.
    pub(crate) async fn stop_change_resume(self: &Arc<Self>, pid: u64, change: Change) {
        let Some(budget) = self.stop_here(pid).await else {
            return;
        };
        let (changed, what) = match &change {
            Change::Restore(checkpoint) => (
                self.restore_to(pid, *checkpoint).await,
                format!("restore to checkpoint {checkpoint}"),
            ),
            Change::Upgrade(digest) => (
                self.upgrade_or_not(pid, digest).await,
                format!("resumed after an upgrade to sha256:{digest}"),
            ),
        };
        let outcome = match changed {
            Ok(record) => self.resume_here(record, Some(budget)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(pid, change = %what, error = %e, "a stopped process could not go on");
            let _ = self.table.advance(
                pid,
                &[State::Failed {
                    reason: format!("{what}: {e}"),
                }],
            );
        }
    }

    /// Stops the task of `pid` if this host runs it, where it is (no end is recorded), and
    /// waits until it is gone; returns its budget, which it goes on with when it is resumed
    /// here (its live children still charge it; nothing it spent is charged again). `None`
    /// if this host does not run it.
    pub(crate) async fn stop_here(&self, pid: u64) -> Option<Arc<crate::budget::Budget>> {
        let stopped = self.lock_running().remove(&pid)?;
        if let Some(abort) = &stopped.abort {
            abort.abort();
            while !abort.is_finished() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Some(Arc::clone(&stopped.budget))
    }

    /// `record`, gone back to the checkpoint asked for it if there is a request (for a
    /// process being adopted).
    pub(crate) async fn restore_if_asked(
        &self,
        record: ProcessRecord,
    ) -> Result<ProcessRecord, ProcessError> {
        let pending = self.table.pending_restores()?;
        match pending.iter().find(|(pid, _)| *pid == record.pid) {
            Some(&(pid, checkpoint)) => self.restore_to(pid, checkpoint).await,
            None => Ok(record),
        }
    }

    /// Replaces `pid`'s journal and records with those of `checkpoint` (the task is stopped).
    async fn restore_to(&self, pid: u64, checkpoint: u64) -> Result<ProcessRecord, ProcessError> {
        let host = |e: libos_journal::JournalError| ProcessError::Host(e.to_string());
        let found = self
            .journal
            .checkpoint_named(&checkpoint.to_string())
            .map_err(host)?
            .filter(|c| c.pid == pid);
        let Some(found) = found else {
            self.table.drop_restore(pid)?;
            return Err(ProcessError::NotFound(format!(
                "checkpoint {checkpoint} of process {pid}"
            )));
        };
        let meta: CheckpointMeta = serde_json::from_str(&found.meta)
            .map_err(|e| ProcessError::Invalid(format!("checkpoint {checkpoint}: {e}")))?;
        let current = self.table.get(pid)?;
        let before = self.table.resume_of(pid)?;
        let events_from = before.as_ref().map_or(0, |r| r.events_from);
        let spawned_at = before.and_then(|r| r.spawned_at);
        let memory = self.journal.checkpoint_memory(found.id).map_err(host)?;
        let image = self
            .images
            .get_shared(&format!("sha256:{}", meta.image_digest))?;
        replace_memory(&self.memory, pid, memory.as_deref(), &image)?;
        // What the calls it takes out of the journal were charged stays spent: stored, so a
        // host that resumes the process later charges it again.
        let entries = self.journal.entries_from(pid, found.from).map_err(host)?;
        if let Some(discarded) = crate::journal::charges_after(&entries, found.upto) {
            self.table.add_discarded_charges(pid, |before| {
                let mut total: [u64; 5] = before
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or_default();
                for (t, d) in total.iter_mut().zip(discarded) {
                    *t = t.saturating_add(d);
                }
                serde_json::to_string(&total).unwrap_or_default()
            })?;
        }
        self.journal
            .restore(&found, pid)
            .stored()
            .await
            .map_err(host)?;
        let record = self.table.restored(
            pid,
            (&meta.image, &meta.image_digest),
            &meta.still_held(&current.capabilities),
            &meta.policy_chain,
            &Resume {
                input: meta.input.clone(),
                workdir: meta.workdir.clone(),
                events_from,
                replay_from: found.from,
                spawned_at,
                // The budget it started with stays stored.
                budget: None,
            },
            found.upto,
        )?;
        tracing::info!(pid, checkpoint, "process went back to a checkpoint");
        Ok(record)
    }
}

/// Makes `memory` (a checkpoint's snapshot, [`encode_memory`]) the whole content of `pid`'s
/// own namespace, within `image`'s memory limits. An empty snapshot empties it.
///
/// # Errors
/// [`ProcessError::Invalid`] for a snapshot that cannot be read; [`ProcessError::Host`] when
/// the objects do not fit the limits or cannot be stored (nothing is changed then).
pub fn replace_memory(
    store: &libos_memory::ObjectStore,
    pid: u64,
    memory: Option<&[u8]>,
    image: &libos_image::Image,
) -> Result<(), ProcessError> {
    let objects = decode_memory(memory.unwrap_or_default())?;
    let limits = crate::primitives::memory::limits_of(&image.limits);
    store
        .replace_namespace(&format!("pid:{pid}"), &objects, &limits)
        .map_err(|e| ProcessError::Host(format!("process {pid}'s memory: {e}")))
}

/// The encoding of a memory snapshot (JSON: an array of objects).
///
/// # Errors
/// Never in practice (the objects are strings); a message if encoding fails.
pub fn encode_memory(objects: &[libos_memory::SnapshotObject]) -> Result<Vec<u8>, String> {
    serde_json::to_vec(objects).map_err(|e| e.to_string())
}

/// A memory snapshot read back ([`encode_memory`]); empty bytes hold no object.
///
/// # Errors
/// [`ProcessError::Invalid`] if the bytes are no snapshot.
pub fn decode_memory(bytes: &[u8]) -> Result<Vec<libos_memory::SnapshotObject>, ProcessError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ProcessError::Invalid(format!("a memory snapshot cannot be read: {e}")))
}
