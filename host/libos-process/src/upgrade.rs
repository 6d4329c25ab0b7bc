//! Upgrading a live process to another image (`libos upgrade PID IMAGE`).
//!
//! A process runs the image digest it started (or `exec`ed) with, on every host that resumes
//! it: a rebuilt image changes nothing for it, and a journal that another component does not
//! match fails it with a divergence. An upgrade is the explicit exception: asked for in the
//! process table (`process_upgrades`), it is applied by the host that runs the process at its
//! next table poll (or by the host that adopts it, before resuming it): the task is stopped
//! where it is (no end is recorded), the process's record is switched to the new image, and
//! it is resumed (never in the middle of an effect: it waits until none is under way): the
//! new component replays the journal of its current run (so the journal
//! stays the one truth of what happened), and goes on live. A new component that makes other
//! calls fails the process with a divergence naming the entry, having executed nothing.
//!
//! Authority only narrows: the process keeps those of its capabilities the new image also
//! requests (as across `exec`), and the new image's policy is added in front of its chain
//! (every earlier set still decides). An upgrade that cannot be applied (the image is gone)
//! is dropped, and the process is resumed with the image it ran.

use std::sync::Arc;

use libos_authority::{Capability, CapabilitySet};
use libos_proctable::ProcessRecord;

use crate::checkpoint::Change;
use crate::error::ProcessError;
use crate::kernel::{Inner, image_capabilities};

impl Inner {
    /// Applies the upgrades asked for the processes this host runs (see the module docs).
    pub(crate) async fn apply_upgrades(self: &Arc<Self>) {
        let Ok(pending) = self.table.pending_upgrades() else {
            return;
        };
        for (pid, digest) in pending {
            // Not in the middle of an effect (a sleep or a question aside): the next poll
            // tries again. (An effect that starts in the instant between is in doubt, as
            // after a crash: a person is asked about it, it is never run twice.)
            if !self.lock_running().contains_key(&pid)
                || self.journal.effect_under_way(pid).unwrap_or(true)
            {
                continue;
            }
            self.stop_change_resume(pid, Change::Upgrade(digest)).await;
        }
    }

    /// `record`, switched to the image an upgrade asks for if there is a request (for a
    /// process being adopted).
    pub(crate) async fn upgrade_if_asked(
        &self,
        record: ProcessRecord,
    ) -> Result<ProcessRecord, ProcessError> {
        let pending = self.table.pending_upgrades()?;
        match pending.iter().find(|(pid, _)| *pid == record.pid) {
            Some((pid, digest)) => self.upgrade_or_not(*pid, digest).await,
            None => Ok(record),
        }
    }

    /// Switches `pid` to image `digest`; if it cannot be, drops the request and leaves the
    /// process as it was. Returns its record.
    pub(crate) async fn upgrade_or_not(
        &self,
        pid: u64,
        digest: &str,
    ) -> Result<ProcessRecord, ProcessError> {
        match self.upgrade_to(pid, digest) {
            Ok(record) => {
                tracing::info!(pid, digest, "process upgraded");
                Ok(record)
            }
            Err(e) => {
                tracing::warn!(pid, digest, error = %e, "upgrade not applied");
                self.table.drop_upgrade(pid)?;
                Ok(self.table.get(pid)?)
            }
        }
    }

    /// Records that `pid` goes on with image `digest` (see the module docs).
    fn upgrade_to(&self, pid: u64, digest: &str) -> Result<ProcessRecord, ProcessError> {
        let image = self.images.get_shared(&format!("sha256:{digest}"))?;
        let current = self.table.get(pid)?;
        let own = current
            .capabilities
            .iter()
            .map(|c| c.parse::<Capability>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProcessError::Invalid(format!("stored capability: {e}")))?;
        let held = CapabilitySet::new(own.clone())
            .map_err(|e| ProcessError::Invalid(format!("stored capability: {e}")))?;
        let kept = crate::primitives::exec::narrow(&own, &held, &image_capabilities(&image)?)
            .map_err(|e| ProcessError::Invalid(format!("{e:?}")))?;
        let kept: Vec<String> = kept.iter().map(ToString::to_string).collect();
        let chain = self
            .table
            .policy_chain(pid)?
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| vec![current.image_digest.clone()]);
        let chain = crate::ctx::chain_with(digest, &chain);
        Ok(self
            .table
            .upgraded(pid, (&image.reference(), digest), &kept, &chain)?)
    }
}
