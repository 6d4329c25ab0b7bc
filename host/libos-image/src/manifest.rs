//! `image.toml`: the manifest an image is built from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use libos_authority::{Capability, Policy};

use crate::budget::{BUDGET_KEYS, ImageBudget};
use crate::component;
use crate::error::{FieldError, ManifestError};
use crate::fields::Section;
use crate::limits::{ImageLimits, LIMIT_KEYS};
use crate::names;
use crate::paths;

/// The manifest's file name inside an image directory.
pub const MANIFEST_FILE: &str = "image.toml";
/// The largest manifest file accepted: 1 MiB.
pub const MAX_MANIFEST_SIZE: u64 = 1 << 20;
/// The largest policy file accepted: 1 MiB.
pub const MAX_POLICY_SIZE: u64 = 1 << 20;

const TOP_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "agent",
    "capabilities",
    "policy",
    "tools",
    "limits",
    "budget",
];

/// A parsed and validated `image.toml`.
///
/// Validation covers the whole manifest: names and version, every capability, the policy
/// (compiled), every limit, and every component file (it exists inside the manifest's
/// directory, is at most [`crate::MAX_COMPONENT_SIZE`] bytes and has a WebAssembly component
/// header). Component contents are read and stored only by [`crate::ImageStore::build`].
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Image name, `[a-z0-9][a-z0-9_-]{0,62}`.
    pub name: String,
    /// Image version: 1 to 64 characters, no whitespace.
    pub version: String,
    /// Free-form description.
    pub description: Option<String>,
    /// The agent component.
    pub agent: ComponentFile,
    /// Tool components by tool name (`[a-z0-9_-]{1,64}`).
    pub tools: BTreeMap<String, ComponentFile>,
    /// Requested capabilities, in manifest order.
    pub capabilities: Vec<Capability>,
    /// The Cedar policy, if the manifest names one.
    pub policy: Option<PolicyFile>,
    /// Resource limits, defaults filled in.
    pub limits: ImageLimits,
    /// Lifetime budgets of the process and its descendants.
    pub budget: ImageBudget,
}

/// A component file named by a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentFile {
    /// The manifest field naming it: `agent` or `tools.<name>`.
    pub field: String,
    /// The path as written in the manifest.
    pub written: String,
    /// The path resolved against the manifest's directory.
    pub path: PathBuf,
    /// Its size in bytes when the manifest was validated.
    pub size: u64,
}

/// The policy file named by a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// The path resolved against the manifest's directory.
    pub path: PathBuf,
    /// Its text, which compiled as a Cedar policy set.
    pub text: String,
}

impl Manifest {
    /// Reads and validates a manifest. `path` is the manifest file, or a directory holding
    /// [`MANIFEST_FILE`].
    ///
    /// # Errors
    /// [`ManifestError::Read`] if the file is missing, unreadable, not UTF-8 or larger than
    /// [`MAX_MANIFEST_SIZE`]; otherwise as [`Manifest::parse`].
    pub fn from_file(path: &Path) -> Result<Manifest, ManifestError> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let path = if path.is_dir() {
            path.join(MANIFEST_FILE)
        } else {
            path
        };
        let read_error = |reason: String| ManifestError::Read {
            path: path.clone(),
            reason,
        };
        let (file, _) = paths::open_file(&path, "manifest", MAX_MANIFEST_SIZE).map_err(|e| {
            read_error(match e {
                FieldError::NotFound { .. } => "no such file".to_owned(),
                other => other.to_string(),
            })
        })?;
        let bytes = paths::read_capped(file, &path, MAX_MANIFEST_SIZE)
            .map_err(|e| read_error(e.to_string()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| read_error("the file is not valid UTF-8".to_owned()))?;
        Manifest::parse(&text, &path)
    }

    /// Parses and validates manifest text. `origin` is the manifest file's path: it labels
    /// every error, and relative paths in the manifest are resolved against its directory.
    ///
    /// # Errors
    /// [`ManifestError::Syntax`] for invalid TOML (with toml's line and column), and
    /// [`ManifestError::Field`] naming the first offending field for everything else: unknown
    /// keys, missing required fields, wrong types, bad names, sizes, durations, capabilities
    /// or policy, and component or policy paths that are absolute, lead outside the
    /// manifest's directory, do not exist, are too large or are not components.
    pub fn parse(text: &str, origin: &Path) -> Result<Manifest, ManifestError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: origin.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let dir = match origin.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut top = Section::top(origin, table, TOP_KEYS)?;

        let name = top.require_string("name")?;
        names::check_image_name(&name).map_err(|e| top.error("name", FieldError::Invalid(e)))?;
        let version = top.require_string("version")?;
        names::check_version(&version).map_err(|e| top.error("version", FieldError::Invalid(e)))?;
        let description = top.take_string("description")?;

        let agent_path = top.require_string("agent")?;
        let agent = component_file(&top, &dir, "agent".to_owned(), agent_path)?;

        let mut tools = BTreeMap::new();
        if let Some(mut section) = top.take_section("tools", None)? {
            for (tool, value) in section.drain() {
                let field = section.path_of(&tool);
                names::check_tool_name(&tool)
                    .map_err(|e| section.error_at(field.clone(), FieldError::Invalid(e)))?;
                let toml::Value::String(written) = value else {
                    return Err(section.wrong_type(&tool, "a component path", &value));
                };
                let file = component_file(&section, &dir, field, written)?;
                tools.insert(tool, file);
            }
        }

        let mut capabilities = Vec::new();
        for (index, entry) in top
            .take_string_array("capabilities")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let cap: Capability = entry.parse().map_err(|e| {
                top.error_at(format!("capabilities[{index}]"), FieldError::Capability(e))
            })?;
            capabilities.push(cap);
        }

        let policy = match top.take_string("policy")? {
            Some(written) => {
                Some(policy_file(&dir, &written).map_err(|problem| top.error("policy", problem))?)
            }
            None => None,
        };

        let limits = match top.take_section("limits", Some(LIMIT_KEYS))? {
            Some(mut section) => ImageLimits::from_section(&mut section)?,
            None => ImageLimits::default(),
        };
        let budget = match top.take_section("budget", Some(BUDGET_KEYS))? {
            Some(mut section) => ImageBudget::from_section(&mut section)?,
            None => ImageBudget::default(),
        };

        Ok(Manifest {
            path: origin.to_path_buf(),
            name,
            version,
            description,
            agent,
            tools,
            capabilities,
            policy,
            limits,
            budget,
        })
    }

    /// The directory the manifest's paths are relative to.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// Reads a component of this manifest in full, re-checking its location, size, header
    /// and section framing (the file may have changed since the manifest was validated).
    ///
    /// # Errors
    /// [`ManifestError::Field`] naming the component's field.
    pub fn read_component(&self, file: &ComponentFile) -> Result<Vec<u8>, ManifestError> {
        component::read_file(self.dir(), &file.path, &file.written).map_err(|problem| {
            ManifestError::Field {
                path: self.path.clone(),
                field: file.field.clone(),
                problem,
            }
        })
    }
}

/// Resolves and checks a component path written in `section`'s `field`.
fn component_file(
    section: &Section,
    dir: &Path,
    field: String,
    written: String,
) -> Result<ComponentFile, ManifestError> {
    let checked = paths::resolve(dir, &written)
        .and_then(|path| component::check_file(dir, &path, &written).map(|size| (path, size)));
    match checked {
        Ok((path, size)) => Ok(ComponentFile {
            field,
            written,
            path,
            size,
        }),
        Err(problem) => Err(section.error_at(field, problem)),
    }
}

/// Resolves, reads and compiles the policy file.
fn policy_file(dir: &Path, written: &str) -> Result<PolicyFile, FieldError> {
    let path = paths::resolve(dir, written)?;
    let (file, _) = paths::open_inside(dir, &path, written, "policy", MAX_POLICY_SIZE)?;
    let bytes = paths::read_capped(file, &path, MAX_POLICY_SIZE)?;
    let text = String::from_utf8(bytes).map_err(|_| FieldError::Unreadable {
        path: path.clone(),
        reason: "the file is not valid UTF-8".to_owned(),
    })?;
    Policy::parse(&text, &path.display().to_string()).map_err(FieldError::Policy)?;
    Ok(PolicyFile { path, text })
}
