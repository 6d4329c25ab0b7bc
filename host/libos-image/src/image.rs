//! Built images, their summaries, and the canonical record their digest is computed from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::budget::ImageBudget;
use crate::digest::Digest;
use crate::limits::ImageLimits;

/// A stored component: its content digest and size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentRef {
    /// SHA-256 of the component bytes; the blob's name in the store.
    pub digest: Digest,
    /// Size of the component in bytes.
    pub size: u64,
}

/// A built image: everything needed to run an agent, with components referenced by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image name.
    pub name: String,
    /// Image version.
    pub version: String,
    /// Free-form description from the manifest.
    pub description: Option<String>,
    /// The image digest: SHA-256 of the canonical record (see [`crate::ImageStore::build`]).
    /// It does not cover `created_ns`, so building the same content again gives the same
    /// digest.
    pub digest: Digest,
    /// The agent component.
    pub agent: ComponentRef,
    /// Tool components by tool name.
    pub tools: BTreeMap<String, ComponentRef>,
    /// Requested capabilities, normalised to `ACTION:RESOURCE`, in manifest order.
    pub capabilities: Vec<String>,
    /// Cedar policy text, if the manifest names a policy.
    pub policy: Option<String>,
    /// Resource limits.
    pub limits: ImageLimits,
    /// Lifetime budgets of the process and its descendants.
    pub budget: ImageBudget,
    /// The object memory its processes start with (a blob: a JSON array of `{kind, key,
    /// value}`), for an image committed from a checkpoint ([`crate::ImageStore::commit`]).
    pub memory: Option<ComponentRef>,
    /// When this record was stored, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
}

impl Image {
    /// `name:version`, a reference that resolves to this image.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// `name:version@sha256:DIGEST`: the image exactly, as remembered answers are keyed (a
    /// rebuild under the same name and version is another image to them).
    pub fn exact(&self) -> String {
        format!("{}:{}@sha256:{}", self.name, self.version, self.digest)
    }
}

/// One line of [`crate::ImageStore::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// Image name.
    pub name: String,
    /// Image version.
    pub version: String,
    /// Image digest.
    pub digest: Digest,
    /// When the record was stored, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// Number of tool components.
    pub tools: usize,
}

/// What building an image did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildChange {
    /// No image with this name and version existed.
    Created,
    /// An image with this name and version existed with other content and was replaced.
    Replaced {
        /// The digest of the replaced image.
        previous: Digest,
    },
    /// An identical image (same digest) was already stored; its record, including
    /// `created_ns`, was left as it was.
    Unchanged,
}

/// The result of [`crate::ImageStore::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The stored image.
    pub image: Image,
    /// Whether it was new, replaced a different build of the same version, or was unchanged.
    pub change: BuildChange,
}

/// Version tag of the canonical record format; part of every image digest.
pub(crate) const RECORD_FORMAT: &str = "libos-image/1";

/// The content an image digest covers. Its canonical encoding is compact JSON (no
/// whitespace) with fields in declaration order and maps sorted by key, which `serde_json`
/// produces deterministically for this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImageRecord {
    pub format: String,
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub agent: ComponentRef,
    pub tools: BTreeMap<String, ComponentRef>,
    pub capabilities: Vec<String>,
    pub policy: Option<String>,
    pub limits: ImageLimits,
    /// Left out when empty, so an image without budgets keeps the digest it had before
    /// budgets existed.
    #[serde(default, skip_serializing_if = "ImageBudget::is_empty")]
    pub budget: ImageBudget,
    /// Left out when absent (every built image), for the same reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ComponentRef>,
}

impl ImageRecord {
    /// The canonical encoding.
    pub(crate) fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Combines the record with its digest and storage time.
    pub(crate) fn into_image(self, digest: Digest, created_ns: u64) -> Image {
        Image {
            name: self.name,
            version: self.version,
            description: self.description,
            digest,
            agent: self.agent,
            tools: self.tools,
            capabilities: self.capabilities,
            policy: self.policy,
            limits: self.limits,
            budget: self.budget,
            memory: self.memory,
            created_ns,
        }
    }
}
