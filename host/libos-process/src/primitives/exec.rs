//! `process.exec`: replacing the image a process runs, in place.
//!
//! Decided with the target image's name as resource (`process.exec:NAME`, never ambient).
//! Everything that can fail is checked here, before the instance is discarded, so an error
//! leaves the caller running unchanged. Capabilities never grow: the process keeps those of
//! its own that the new image also requests (see [`narrow`]). The policy in force after it is
//! the new image's inheriting the one before (every set still decides), so a process can
//! shed no `forbid` by exec'ing into a laxer image, and the new image's own rules apply too.

use std::sync::Arc;

use libos::bindings::RuntimeError;
use libos_authority::{Capability, CapabilitySet, attenuate};

use crate::ctx::{PendingExec, ProcessCtx};
use crate::error::ProcessError;
use crate::kernel::image_capabilities;

impl ProcessCtx {
    pub(crate) async fn prepare_exec(
        &mut self,
        image: String,
        input: String,
    ) -> Result<PendingExec, RuntimeError> {
        // A malformed reference is refused before it is decided on (or audited).
        libos_image::check_reference(&image).map_err(|e| ProcessError::from(e).to_runtime())?;
        let name = image.split(':').next().unwrap_or_default().to_owned();
        let digest = libos::call::digest(&[b"process.exec", image.as_bytes(), input.as_bytes()]);
        let permit = self.call.permit("process.exec", &name, Some(&digest))?;
        let target = Arc::new(
            self.kernel
                .images
                .get(&image)
                .map_err(|e| ProcessError::from(e).to_runtime())?,
        );
        let requested = image_capabilities(&target).map_err(|e| e.to_runtime())?;
        let capabilities = narrow(&self.capabilities, &self.held, &requested)?;
        let pre = self
            .kernel
            .agent(&target)
            .await
            .map_err(|e| e.to_runtime())?;
        let policy = self
            .kernel
            .policy_inheriting(&target, Some(&self.policy))
            .map_err(|e| e.to_runtime())?;
        // The run loop replaces the image as soon as this returns.
        self.call.record_stored().await?;
        permit.done(None);
        Ok(PendingExec {
            image: target,
            pre,
            capabilities,
            input,
            policy,
        })
    }
}

/// The capabilities a process holding `held` keeps when it runs an image requesting
/// `requested`: each requested one that `held` covers, and each held one that `requested`
/// covers (so `fs.read:**` requested of a holder of `fs.read:src/**` gives `fs.read:src/**`).
/// Never anything `held` does not cover.
pub(crate) fn narrow(
    own: &[Capability],
    held: &CapabilitySet,
    requested: &[Capability],
) -> Result<Vec<Capability>, RuntimeError> {
    let wanted = CapabilitySet::new(requested.to_vec())
        .map_err(|e| RuntimeError::Invalid(format!("image capability: {e}")))?;
    let mut kept: Vec<Capability> = Vec::new();
    let candidates =
        requested
            .iter()
            .filter(|r| attenuate::first_not_within(std::slice::from_ref(*r), held).is_none())
            .chain(own.iter().filter(|h| {
                attenuate::first_not_within(std::slice::from_ref(*h), &wanted).is_none()
            }));
    for cap in candidates {
        if !kept.iter().any(|k| k.to_string() == cap.to_string()) {
            kept.push(cap.clone());
        }
    }
    Ok(kept)
}
