//! The per-host caches of what images need: parsed policies, pre-instantiated agents and
//! loaded tools, each keyed by content digest so every process of an image shares them.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use libos_authority::Policy;
use libos_image::Image;

use crate::bindings::AgentPre;
use crate::ctx::ProcessCtx;
use crate::error::ProcessError;
use crate::kernel::Inner;

/// The policy of `image` alone: its `policy.cedar`, whose rules are named
/// `NAME/policy.cedar#ID` where inherited (what audit records and `libos policy explain`
/// show), or the built-in permit when it has none.
///
/// # Errors
/// `Invalid` when the stored policy does not parse.
pub fn policy_of(image: &Image) -> Result<Policy, ProcessError> {
    match &image.policy {
        Some(text) => Policy::parse(text, &format!("{}/policy.cedar", image.name))
            .map_err(|e| ProcessError::Invalid(e.to_string())),
        None => Ok(Policy::permit_all()),
    }
}

/// `e` with the blob's path (in the state directory, which guests are never shown) replaced
/// by "the component".
pub(crate) fn unplaced(e: &dyn std::fmt::Display, blob: &std::path::Path) -> String {
    e.to_string()
        .replace(&blob.display().to_string(), "the component")
}

/// How many inherited policy chains a host keeps (cleared wholesale past it).
const KEPT_CHAINS: usize = 4096;

impl Inner {
    /// The parsed policy of `image`, parsed once per host and image. Sharing one `Arc` also
    /// lets processes of the same image share their authorities' verdict caches.
    pub(crate) fn policy(&self, image: &Image) -> Result<Arc<Policy>, ProcessError> {
        let digest = image.digest.to_string();
        let mut policies = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = policies.get(&digest) {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(policy_of(image)?);
        policies.insert(digest, Arc::clone(&policy));
        Ok(policy)
    }

    /// The policy of `image` inheriting `ancestors` (a parent's policy in force, or the one a
    /// process had before an `exec`); the image's own without. Each chain is built once per
    /// host, so the processes under it share one `Arc` (and their authorities' caches).
    pub(crate) fn policy_inheriting(
        &self,
        image: &Image,
        ancestors: Option<&Arc<Policy>>,
    ) -> Result<Arc<Policy>, ProcessError> {
        let own = self.policy(image)?;
        let Some(ancestors) = ancestors else {
            return Ok(own);
        };
        let key = format!("{}+{}", image.digest, hex::encode(ancestors.chain_digest()));
        let mut chains = self.chains.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(policy) = chains.get(&key) {
            return Ok(Arc::clone(policy));
        }
        let chained = Arc::new(own.inheriting(ancestors));
        if chains.len() >= KEPT_CHAINS {
            chains.clear();
        }
        chains.insert(key, Arc::clone(&chained));
        Ok(chained)
    }

    /// The pre-instantiated agent of `image`, compiled once per host.
    pub(crate) async fn agent(&self, image: &Image) -> Result<AgentPre<ProcessCtx>, ProcessError> {
        let digest = image.agent.digest.to_string();
        if let Some(pre) = self.lock_agents().get(&digest) {
            return Ok(pre.clone());
        }
        let path = self.images.component_path(&image.agent.digest);
        let (component, _, _, _) = self
            .host
            .compile_blob(&path, &image.agent.digest.to_hex())
            .await
            .map_err(|e| {
                ProcessError::Invalid(format!(
                    "agent of {}: {}",
                    image.reference(),
                    unplaced(&e, &path)
                ))
            })?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(AgentPre::new)
            .map_err(|e| {
                ProcessError::Invalid(format!(
                    "agent of {} is not an agent component: {e:#}",
                    image.reference()
                ))
            })?;
        self.lock_agents().insert(digest, pre.clone());
        Ok(pre)
    }

    /// The loaded tool `name` of `image`, loaded once per host.
    pub(crate) async fn tool(
        &self,
        image: &Image,
        name: &str,
    ) -> Result<Arc<libos::LoadedTool>, ProcessError> {
        let Some(component) = image.tools.get(name) else {
            return Err(ProcessError::NotFound(format!("tool {name:?}")));
        };
        let digest = component.digest.to_string();
        if let Some(tool) = self.lock_tools().get(&digest) {
            return Ok(Arc::clone(tool));
        }
        let blob = self.images.component_path(&component.digest);
        let tool = Arc::new(
            self.host
                .load_blob(&blob, &component.digest.to_hex())
                .await
                .map_err(|e| {
                    ProcessError::Invalid(format!("tool {name:?}: {}", unplaced(&e, &blob)))
                })?,
        );
        self.lock_tools().insert(digest, Arc::clone(&tool));
        Ok(tool)
    }

    /// The loaded tool whose component has `digest` (a registered one), loaded once per
    /// host from the image store, its blob checked against the digest.
    pub(crate) async fn tool_by_digest(
        &self,
        digest: &str,
    ) -> Result<Arc<libos::LoadedTool>, ProcessError> {
        if let Some(tool) = self.lock_tools().get(digest) {
            return Ok(Arc::clone(tool));
        }
        let parsed: libos_image::Digest = digest
            .parse()
            .map_err(|e: libos_image::ImageError| ProcessError::Invalid(e.to_string()))?;
        let blob = self.images.component_path(&parsed);
        let tool = Arc::new(self.host.load_blob(&blob, digest).await.map_err(|e| {
            ProcessError::Invalid(format!("registered tool: {}", unplaced(&e, &blob)))
        })?);
        self.lock_tools()
            .insert(digest.to_owned(), Arc::clone(&tool));
        Ok(tool)
    }

    /// The tool whose component has `digest`, if this host has it loaded.
    pub(crate) fn loaded_tool(&self, digest: &str) -> Option<Arc<libos::LoadedTool>> {
        self.lock_tools().get(digest).cloned()
    }

    /// Keeps `tool` (just registered) for later calls.
    pub(crate) fn remember_tool(&self, digest: &str, tool: libos::LoadedTool) {
        self.lock_tools().insert(digest.to_owned(), Arc::new(tool));
    }

    fn lock_agents(&self) -> std::sync::MutexGuard<'_, HashMap<String, AgentPre<ProcessCtx>>> {
        self.agents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_tools(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<libos::LoadedTool>>> {
        self.tools.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
