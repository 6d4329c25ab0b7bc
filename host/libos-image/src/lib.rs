//! AgentImage manifests and the content-addressed image store.
//!
//! An *image* is to an agent what a container image is to a process: a manifest
//! (`image.toml`) naming an agent component, optional tool components, the capabilities the
//! agent asks for, an optional Cedar policy and resource limits. [`Manifest`] parses and
//! validates the manifest; [`ImageStore::build`] stores its components by SHA-256 and records
//! the image under a digest of its canonical content; [`ImageStore::get`] finds it again by
//! `name`, `name:version` or `sha256:<digest prefix>`.
//!
//! ```toml
//! name = "coding-agent"                     # required: [a-z0-9][a-z0-9_-]{0,62}
//! version = "0.1.0"                         # required: 1-64 characters, no whitespace
//! description = "optional text"
//! agent = "coding_agent.wasm"               # required: the agent component
//! capabilities = ["fs.read:**", "memory.write:self/**"]
//! policy = "policy.cedar"                   # optional Cedar policy, stored as text
//!
//! [tools]                                   # tool name ([a-z0-9_-]{1,64}) -> component
//! read_file = "read_file.wasm"
//!
//! [limits]                                  # every key optional; see ImageLimits
//! memory = "64MiB"
//! wall_clock = "10m"
//! ```
//!
//! Paths are relative to the manifest's directory and may not leave it. Unknown keys are
//! errors, and every error names the manifest file and the field.

mod blobs;
mod budget;
mod cache;
mod component;
mod digest;
mod duration;
mod error;
mod fields;
mod image;
mod limits;
mod manifest;
mod names;
mod paths;
mod reference;
mod row;
mod schema;
mod size;
mod store;

pub use budget::ImageBudget;
pub use component::MAX_COMPONENT_SIZE;
pub use digest::Digest;
pub use error::{FieldError, ImageError, ManifestError};
pub use image::{BuildChange, Built, ComponentRef, Image, ImageSummary};
pub use limits::ImageLimits;
pub use manifest::{
    ComponentFile, MANIFEST_FILE, MAX_MANIFEST_SIZE, MAX_POLICY_SIZE, Manifest, PolicyFile,
};
pub use names::check_tool_name;
pub use reference::{MIN_DIGEST_PREFIX, check_reference};
pub use size::MAX_SIZE;
pub use store::ImageStore;
