//! Plain components: a component that does not implement the `tool` world is loaded as one
//! tool per exported function (top level, or in an exported interface), called with a JSON
//! object of its arguments and answering with its result as JSON (`crate::wit_json`).
//!
//! Functions are named as exported at the top level (`hello`) or `interface.function` for an
//! interface's (`zoo.add-u8` for `add-u8` of `libos:zoo/zoo@0.1.0`); a bare function name
//! found once in the whole component names it too. A function whose parameters or result
//! have no JSON form (resources, futures, streams) is listed with the reason at load, and a
//! call of it is refused. A tool is never loaded this way (`LoadError::IsATool`): its
//! `invoke` called as a plain function would skip its schema check and run under another name. A plain component declares no capabilities: a call of it holds what
//! the caller grants it, decided by the caller's policy, like a tool's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{ComponentExportIndex, InstancePre, Val};

use super::input_schema::InputSchema;
use super::invoke::{CallReport, Ran};
use super::{CallOptions, ToolHost};
use crate::call::CallCtx;
use crate::error::{CallFailure, LoadError};
use crate::wasm::cache::CacheOutcome;
use crate::wasm::validate::{self, ImportClass, ImportInfo};
use crate::wit_json::docs::FunctionDocs;
use crate::wit_json::{from_val, schema, to_val};

/// One exported function of a plain component. As JSON: `name`, and `input_schema` or
/// `not_callable` (why it has no JSON form).
#[derive(Debug, Clone)]
pub struct PlainFunction {
    /// Its name as a tool (`hello`, `zoo.add-u8`).
    pub name: String,
    /// JSON Schema of its argument object (its `description` the function's WIT doc
    /// comment, when the component carries it), or why it has no JSON form.
    pub schema: Result<serde_json::Value, String>,
    /// Its WIT doc comment, from the component's `package-docs` section.
    pub description: Option<String>,
    ty: ComponentFunc,
    index: ComponentExportIndex,
    /// The schema, compiled (arguments are checked against it, then converted).
    check: Option<Arc<InputSchema>>,
}

impl PlainFunction {
    /// Its component type.
    pub fn ty(&self) -> &ComponentFunc {
        &self.ty
    }
}

impl Serialize for PlainFunction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        if let Some(description) = &self.description {
            map.serialize_entry("description", description)?;
        }
        match &self.schema {
            Ok(schema) => map.serialize_entry("input_schema", schema)?,
            Err(why) => map.serialize_entry("not_callable", why)?,
        }
        map.end()
    }
}

/// A validated, compiled, pre-instantiated plain component.
pub struct LoadedPlain {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// Hex SHA-256 of the component bytes.
    pub digest: String,
    /// Every import and how the host treats it.
    pub imports: Vec<ImportInfo>,
    /// Every exported function.
    pub functions: Vec<PlainFunction>,
    /// Whether compilation was served from the cache.
    pub cache: CacheOutcome,
    uses_wasi_fs: bool,
    pre: InstancePre<CallCtx>,
}

impl LoadedPlain {
    /// The function `name` names: its full name, or a bare function name found once.
    pub fn function(&self, name: &str) -> Result<&PlainFunction, LoadError> {
        if let Some(f) = self.functions.iter().find(|f| f.name == name) {
            return Ok(f);
        }
        let bare: Vec<&PlainFunction> = self
            .functions
            .iter()
            .filter(|f| f.name.rsplit_once('.').is_some_and(|(_, b)| b == name))
            .collect();
        match bare.as_slice() {
            [one] => Ok(one),
            _ => Err(LoadError::NoSuchFunction {
                path: self.path.clone(),
                name: name.to_owned(),
                known: self.functions.iter().map(|f| f.name.clone()).collect(),
            }),
        }
    }
}

/// The short name of an exported interface: `zoo` for `libos:zoo/zoo@0.1.0`.
fn short(interface: &str) -> &str {
    let base = interface.split_once('@').map_or(interface, |(b, _)| b);
    base.rsplit_once('/').map_or(base, |(_, s)| s)
}

/// What `libos tool inspect` shows of any component: its imports, how the host treats each
/// (refused ones included), and its exported functions with their schemas.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Where it was read from.
    pub path: PathBuf,
    /// Hex SHA-256 of the component bytes.
    pub digest: String,
    /// Every import and how the host treats it.
    pub imports: Vec<ImportInfo>,
    /// Every export name (functions and interfaces).
    pub exports: Vec<String>,
    /// Every exported function.
    pub functions: Vec<PlainFunction>,
    /// Whether it exports the `tool` world's `describe` and `invoke`.
    pub is_tool: bool,
}

/// Every function `component` exports, at the top level or in an exported interface.
fn exported_functions(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
    docs: &FunctionDocs,
) -> Vec<PlainFunction> {
    let mut functions = Vec::new();
    let mut add = |name: String, ty: ComponentFunc, index: Option<ComponentExportIndex>| {
        let Some(index) = index else { return };
        let description = docs.get(&name).map(str::to_owned);
        let schema = match crate::wit_json::check_func(&ty) {
            Ok(()) => schema::params(&ty).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let schema = schema.map(|mut s| {
            if let (Some(d), Some(obj)) = (&description, s.as_object_mut()) {
                obj.insert("description".into(), serde_json::Value::String(d.clone()));
            }
            s
        });
        let check = schema
            .as_ref()
            .ok()
            .and_then(|s| InputSchema::compile(s).ok())
            .map(Arc::new);
        functions.push(PlainFunction {
            name,
            schema,
            description,
            ty,
            index,
            check,
        });
    };
    for (name, item) in component.component_type().exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(f) => {
                add(name.to_owned(), f, component.get_export_index(None, name));
            }
            ComponentItem::ComponentInstance(inst) => {
                let Some(at) = component.get_export_index(None, name) else {
                    continue;
                };
                for (fname, item) in inst.exports(engine) {
                    if let ComponentItem::ComponentFunc(f) = item.ty {
                        add(
                            format!("{}.{fname}", short(name)),
                            f,
                            component.get_export_index(Some(&at), fname),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    functions
}

/// Whether `functions` are the `tool` world's: `describe` and `invoke` at the top level.
fn is_tool(functions: &[PlainFunction]) -> bool {
    ["describe", "invoke"]
        .iter()
        .all(|name| functions.iter().any(|f| f.name == *name))
}

impl ToolHost {
    /// Reads and compiles any component (through the cache) and shows its imports, each
    /// classified (refused ones too), and its exported functions. Nothing is instantiated.
    pub async fn inspect(&self, path: &Path) -> Result<Inspection, LoadError> {
        let (component, digest, imports, docs) = self.compile_for_inspection(path).await?;
        let functions = exported_functions(&self.engine, &component, &docs);
        let is_tool = is_tool(&functions);
        Ok(Inspection {
            path: path.to_path_buf(),
            digest,
            imports,
            exports: validate::exports(&self.engine, &component),
            functions,
            is_tool,
        })
    }

    /// Reads, checks, compiles (or loads from cache) and validates a component, and lists its
    /// exported functions with their schemas. Nothing is instantiated.
    pub async fn load_plain(&self, path: &Path) -> Result<LoadedPlain, LoadError> {
        let (component, digest, cache, imports, docs) = self.compile_documented(path, None).await?;
        if let Some(agent_only) = imports.iter().find(|i| validate::is_agent_only(&i.name)) {
            return Err(LoadError::Refused {
                import: agent_only.name.clone(),
                why: "is served to agent processes only, not to tools".into(),
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Refused {
                import: "an interface".into(),
                why: format!("this host cannot link: {e:#}"),
            })?;
        let functions = exported_functions(&self.engine, &component, &docs);
        if is_tool(&functions) {
            return Err(LoadError::IsATool {
                path: path.to_path_buf(),
            });
        }
        let uses_wasi_fs = imports
            .iter()
            .any(|i| i.class == ImportClass::WasiFilesystem);
        Ok(LoadedPlain {
            path: path.to_path_buf(),
            digest,
            imports,
            functions,
            cache,
            uses_wasi_fs,
            pre,
        })
    }

    /// Calls `function` of `plain` with the JSON argument object `input` in a fresh instance
    /// under `options` (the same limits, capabilities and policy as a tool's call). The
    /// arguments are converted, and refused as `invalid-input` naming where, before anything
    /// runs; the result is the function's result as JSON.
    pub async fn call_function(
        &self,
        plain: &LoadedPlain,
        function: &str,
        input: &str,
        options: &CallOptions,
    ) -> CallReport {
        let started = Instant::now();
        let fail = |failure| CallReport::failed(failure, started);
        let f = match plain.function(function) {
            Ok(f) => f,
            Err(e) => return fail(CallFailure::InvalidInput(e.to_string())),
        };
        if let Err(why) = &f.schema {
            return fail(CallFailure::InvalidInput(format!("{}: {why}", f.name)));
        }
        let args = match serde_json::from_str::<serde_json::Value>(input)
            .map_err(|e| format!("the input is not JSON: {e}"))
            .and_then(|json| match &f.check {
                // The derived schema says the same as the conversion; both must agree.
                Some(check) => check.check(&json).map(|()| json),
                None => Ok(json),
            })
            .and_then(|json| to_val::args(&f.ty, &json).map_err(|e| e.to_string()))
        {
            Ok(args) => args,
            Err(why) => return fail(CallFailure::InvalidInput(why)),
        };
        let subject: Arc<str> = match options.on_behalf_of {
            Some(pid) => format!("pid:{pid}/tool:{}", f.name).into(),
            None => format!("tool:{}", f.name).into(),
        };
        // Declares nothing: holds what the call grants (see the module docs).
        let (mut store, stdout, stderr) =
            match self.store(subject, options, &options.capabilities, plain.uses_wasi_fs) {
                Ok(s) => s,
                Err(failure) => return fail(failure),
            };
        let limits = options.limits;
        let grace = limits.timeout + Duration::from_secs(1);
        let mut results = vec![Val::Bool(false); f.ty.results().len()];
        let outcome = tokio::time::timeout(grace, async {
            let instance = plain.pre.instantiate_async(&mut store).await?;
            let func = instance
                .get_func(&mut store, f.index)
                .ok_or_else(|| wasmtime::Error::msg(format!("{} is not exported", f.name)))?;
            func.call_async(&mut store, &args, &mut results).await
        })
        .await;
        let done = Ran {
            store,
            limits,
            stdout: &stdout,
            stderr: &stderr,
            started,
        };
        done.report(outcome, |()| {
            from_val::results(&f.ty, &results)
                .map(|json| json.to_string())
                .map_err(|e| CallFailure::Failed(e.to_string()))
        })
    }
}
