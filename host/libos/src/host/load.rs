//! Loading a component: read, check the header, compile through the cache, validate every
//! import, pre-instantiate, and ask a tool to describe itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libos_authority::Capability;
use serde::Serialize;
use wasmtime::component::Component;

use super::input_schema::{InputSchema, MAX_SCHEMA_BYTES};
use super::{CallOptions, ToolHost};
use crate::bindings::ToolPre;
use crate::call::CallCtx;
use crate::error::LoadError;
use crate::limits::Limits;
use crate::wasm::cache::{CacheOutcome, ComponentCache};
use crate::wasm::validate::{self, ImportClass, ImportInfo};
use crate::wit_json::docs::FunctionDocs;

/// What a tool says about itself, checked by the host.
#[derive(Debug, Clone, Serialize)]
pub struct ToolDescription {
    /// Tool name (`[a-z0-9_-]+`).
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// JSON Schema of its input.
    pub input_schema: serde_json::Value,
    /// Capabilities the tool declares; a call never gets more than these.
    pub capabilities: Vec<String>,
}

/// A validated, compiled, pre-instantiated tool component.
#[derive(Clone)]
pub struct LoadedTool {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Hex SHA-256 of the component bytes.
    pub digest: String,
    /// Every import and how the host treats it.
    pub imports: Vec<ImportInfo>,
    /// Every export name.
    pub exports: Vec<String>,
    /// Its `describe()` answer.
    pub info: ToolDescription,
    /// Whether compilation was served from the cache.
    pub cache: CacheOutcome,
    pub(super) declared: Vec<Capability>,
    pub(super) uses_wasi_fs: bool,
    pub(super) pre: ToolPre<CallCtx>,
    /// Its input schema, compiled: every call's input is checked against it first.
    pub(super) input_check: Option<Arc<InputSchema>>,
}

impl LoadedTool {
    /// This tool with what it may use narrowed to `grant` as well (a JIT tool's manifest):
    /// the capabilities it declares that lie within the grant, and the granted ones that lie
    /// within what it declares. Each kept capability is covered by both, so a call never
    /// gets more than either allows.
    pub fn granted(
        &self,
        grant: &[Capability],
    ) -> Result<LoadedTool, libos_authority::AuthorityError> {
        use libos_authority::attenuate::within;
        let granted = libos_authority::CapabilitySet::new(grant.to_vec())?;
        let declared = libos_authority::CapabilitySet::new(self.declared.clone())?;
        let mut kept: Vec<Capability> = self
            .declared
            .iter()
            .filter(|d| within(d, &granted))
            .cloned()
            .collect();
        for g in grant {
            if within(g, &declared) && !kept.contains(g) {
                kept.push(g.clone());
            }
        }
        let mut tool = self.clone();
        tool.info.capabilities = kept.iter().map(ToString::to_string).collect();
        tool.declared = kept;
        Ok(tool)
    }
}

impl ToolHost {
    /// Reads, checks, compiles (or loads from cache) and validates a component, then asks it
    /// to describe itself. Nothing is instantiated before every import has been checked.
    pub async fn load(&self, path: &Path) -> Result<LoadedTool, LoadError> {
        self.load_checked(path, None).await
    }

    /// [`ToolHost::load`] of a stored blob: refused unless its bytes hash to `digest` (hex
    /// SHA-256), the name it is stored under.
    pub async fn load_blob(&self, path: &Path, digest: &str) -> Result<LoadedTool, LoadError> {
        self.load_checked(path, Some(digest)).await
    }

    async fn load_checked(
        &self,
        path: &Path,
        expected: Option<&str>,
    ) -> Result<LoadedTool, LoadError> {
        let (component, digest, cache, imports) = self.compile_checked(path, expected).await?;
        if let Some(agent_only) = imports.iter().find(|i| validate::is_agent_only(&i.name)) {
            return Err(LoadError::Refused {
                import: agent_only.name.clone(),
                why: "is served to agent processes only, not to tools".into(),
            });
        }
        let exports = validate::exports(&self.engine, &component);
        let pre = self.prepare(path, &component)?;
        let uses_wasi_fs = imports
            .iter()
            .any(|i| i.class == ImportClass::WasiFilesystem);
        let mut tool = LoadedTool {
            path: path.to_path_buf(),
            digest,
            imports,
            exports,
            info: ToolDescription {
                name: String::new(),
                description: String::new(),
                input_schema: serde_json::Value::Null,
                capabilities: Vec::new(),
            },
            cache,
            declared: Vec::new(),
            uses_wasi_fs,
            pre,
            input_check: None,
        };
        self.describe(&mut tool).await?;
        Ok(tool)
    }

    /// Reads, checks and compiles (or loads from the cache) the component at `path`, and
    /// refuses it unless every import is one this host serves. Returns the component, the
    /// hex SHA-256 of its bytes, whether the cache served it, and its imports.
    pub async fn compile(
        &self,
        path: &Path,
    ) -> Result<(Component, String, CacheOutcome, Vec<ImportInfo>), LoadError> {
        self.compile_checked(path, None).await
    }

    /// [`ToolHost::compile`] of a stored blob: refused unless its bytes hash to `digest` (hex
    /// SHA-256), the name it is stored under, so a blob altered in the store is never run.
    pub async fn compile_blob(
        &self,
        path: &Path,
        digest: &str,
    ) -> Result<(Component, String, CacheOutcome, Vec<ImportInfo>), LoadError> {
        self.compile_checked(path, Some(digest)).await
    }

    async fn compile_checked(
        &self,
        path: &Path,
        expected: Option<&str>,
    ) -> Result<(Component, String, CacheOutcome, Vec<ImportInfo>), LoadError> {
        let (component, digest, cache, imports, _) =
            self.compile_documented(path, expected).await?;
        Ok((component, digest, cache, imports))
    }

    /// [`ToolHost::compile_checked`], with the WIT docs the component carries.
    pub(super) async fn compile_documented(
        &self,
        path: &Path,
        expected: Option<&str>,
    ) -> Result<
        (
            Component,
            String,
            CacheOutcome,
            Vec<ImportInfo>,
            FunctionDocs,
        ),
        LoadError,
    > {
        let bytes = read_regular(path, self.max_component_bytes)?;
        check_header(path, &bytes)?;
        let digest = ComponentCache::digest(&bytes);
        if let Some(expected) = expected
            && !expected.eq_ignore_ascii_case(&digest)
        {
            return Err(LoadError::Altered {
                path: path.to_path_buf(),
                expected: expected.to_owned(),
                actual: digest,
            });
        }
        let docs = FunctionDocs::of(&bytes);
        let (component, cache) = self.cache.load(&self.engine, bytes, &digest, path).await?;
        let imports = validate::imports(&self.engine, &component);
        validate::ensure_allowed_under(&imports, self.strict_imports)?;
        Ok((component, digest, cache, imports, docs))
    }

    /// [`ToolHost::compile`] without refusing any import: for showing what a component
    /// imports and exports (`libos tool inspect`). Nothing of it may run.
    pub(super) async fn compile_for_inspection(
        &self,
        path: &Path,
    ) -> Result<(Component, String, Vec<ImportInfo>, FunctionDocs), LoadError> {
        let bytes = read_regular(path, self.max_component_bytes)?;
        check_header(path, &bytes)?;
        let digest = ComponentCache::digest(&bytes);
        let docs = FunctionDocs::of(&bytes);
        let (component, _) = self.cache.load(&self.engine, bytes, &digest, path).await?;
        let imports = validate::imports(&self.engine, &component);
        Ok((component, digest, imports, docs))
    }

    fn prepare(&self, path: &Path, component: &Component) -> Result<ToolPre<CallCtx>, LoadError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::Refused {
                import: "an interface".into(),
                why: format!("this host cannot link: {e:#}"),
            })?;
        ToolPre::new(pre).map_err(|e| LoadError::NotATool {
            path: path.to_path_buf(),
            message: format!("{e:#}"),
        })
    }

    async fn describe(&self, tool: &mut LoadedTool) -> Result<(), LoadError> {
        let fail = |message: String| LoadError::Describe {
            path: tool.path.clone(),
            message,
        };
        let subject: Arc<str> = format!("component:{}", &tool.digest[..12]).into();
        let options = CallOptions::holding_nothing(Limits::default(), super::Seed::Fixed(0));
        let (mut store, _, _) = self
            .store(subject, &options, &[], false)
            .map_err(|e| fail(e.to_string()))?;
        let instance = tool
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        let info = instance
            .call_describe(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        let valid_name = !info.name.is_empty()
            && info.name.len() <= 64
            && info
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(fail(format!(
                "tool name {:?} is not 1-64 characters of [a-z0-9_-]",
                info.name
            )));
        }
        if info.input_schema.len() > MAX_SCHEMA_BYTES {
            return Err(fail(format!(
                "input schema of {} bytes is larger than the {MAX_SCHEMA_BYTES}-byte limit",
                info.input_schema.len()
            )));
        }
        let schema: serde_json::Value = serde_json::from_str(&info.input_schema)
            .map_err(|e| fail(format!("input schema is not JSON: {e}")))?;
        let input_check =
            InputSchema::compile(&schema).map_err(|e| fail(format!("input schema: {e}")))?;
        let mut declared = Vec::new();
        for c in &info.capabilities {
            let text = format!("{}:{}", c.action, c.resource);
            let cap: Capability = text
                .parse()
                .map_err(|e| fail(format!("declared capability {text:?}: {e}")))?;
            declared.push(cap);
        }
        tool.info = ToolDescription {
            name: info.name,
            description: info.description,
            input_schema: schema,
            capabilities: declared.iter().map(ToString::to_string).collect(),
        };
        tool.declared = declared;
        tool.input_check = Some(Arc::new(input_check));
        Ok(())
    }
}

/// Checks the magic number and the layer before handing bytes to the compiler.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if !bytes.starts_with(b"\0asm") || bytes.len() < 8 {
        return Err(LoadError::Malformed {
            path: path.to_path_buf(),
            message: "the file does not start with the WebAssembly magic number".into(),
        });
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule {
            path: path.to_path_buf(),
        });
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::Malformed {
            path: path.to_path_buf(),
            message: "unknown WebAssembly version or layer".into(),
        });
    }
    Ok(())
}

/// The bytes of the regular file `path`, at most `max` of them. Decided on the opened file
/// (opened without blocking, so a FIFO cannot stall the host), before anything is read: a
/// device, FIFO or directory is refused, and so is a file over `max` (read through a cap in
/// case it grows meanwhile).
fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, LoadError> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let read_err = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(LoadError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let too_large = |size| LoadError::TooLarge {
        path: path.to_path_buf(),
        size,
        max,
    };
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let read = bytes.len() as u64;
    if read > max {
        return Err(too_large(read));
    }
    Ok(bytes)
}
