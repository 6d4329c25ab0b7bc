//! `libos:runtime/tools.register`: JIT tools.
//!
//! A process hands the host the bytes of a tool component and a manifest (name, granted
//! capabilities, whether its children see it). The registration is decided as
//! `tool.register` on the name; the manifest may grant only capabilities the registrar holds
//! (else the refusal names the first one, audited); the component is validated like any tool
//! (imports, description, schema), stored content-addressed in the image store, and recorded
//! with the process in the process table (`process_tools`), so it outlives the host. A call
//! of the tool then runs with the caller's capabilities narrowed to what the tool declares
//! *and* to what its manifest granted ([`libos::LoadedTool::granted`]); its blob is checked
//! against its digest whenever it is loaded. The component's size is charged to the
//! process's `bytes_written` budget before it is stored. Children spawned after a registration with
//! `inherit` get a row of their own naming it (same grant), written before they run; others
//! never see it. A call of a
//! registered tool is recorded under the subject `pid:N/tool:jit:NAME` (its registered name),
//! which no image tool can have. Registrations stay with the process across `exec` (run
//! under the new image's capabilities).

use libos::bindings::RuntimeError;
use libos_authority::Capability;
use libos_proctable::RegisteredTool;
use sha2::{Digest as _, Sha256};

use crate::bindings::libos::runtime::tools::ToolManifest;
use crate::ctx::ProcessCtx;

/// The loaded tool of `registered`, narrowed to its manifest's grant.
pub(crate) async fn registered_tool(
    kernel: std::sync::Arc<crate::kernel::Inner>,
    registered: RegisteredTool,
) -> Result<libos::LoadedTool, RuntimeError> {
    let tool = kernel
        .tool_by_digest(&registered.digest)
        .await
        .map_err(|e| e.to_runtime())?;
    narrowed(&tool, &registered)
}

/// `tool` narrowed to the grant of `registered` (parsed again: the row is not trusted).
fn narrowed(
    tool: &libos::LoadedTool,
    registered: &RegisteredTool,
) -> Result<libos::LoadedTool, RuntimeError> {
    let grant: Vec<Capability> = registered
        .capabilities
        .iter()
        .map(|c| c.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| RuntimeError::Io(format!("stored grant of {:?}: {e}", registered.name)))?;
    let mut tool = tool
        .granted(&grant)
        .map_err(|e| RuntimeError::Io(format!("grant of {:?}: {e}", registered.name)))?;
    // Its calls are recorded as `pid:N/tool:jit:NAME`: never the subject of an image's tool
    // (whose names have no `:`), whatever it says it is called.
    tool.info.name = format!("jit:{}", registered.name);
    Ok(tool)
}

impl ProcessCtx {
    /// `tools.register` (see the module docs); the tool's id.
    pub(crate) async fn register_tool(
        &mut self,
        component: Vec<u8>,
        manifest: ToolManifest,
    ) -> Result<String, RuntimeError> {
        let name = manifest.name;
        // The rule of an image's tool table, which the name joins.
        if libos_image::check_tool_name(&name).is_err() {
            return Err(RuntimeError::Invalid(format!(
                "a tool name is 1 to 64 characters of [a-z0-9_-], not {:?}",
                name.chars().take(80).collect::<String>()
            )));
        }
        let granted: Vec<String> = manifest
            .capabilities
            .iter()
            .map(|c| format!("{}:{}", c.action, c.resource))
            .collect();
        let bytes_digest: [u8; 32] = Sha256::digest(&component).into();
        let args = libos::call::digest(&[
            b"tools.register",
            name.as_bytes(),
            &bytes_digest,
            granted.join("\n").as_bytes(),
            &[u8::from(manifest.inherit)],
        ]);
        let mut grant = Vec::with_capacity(granted.len());
        for text in &granted {
            match text.parse::<Capability>() {
                Ok(cap) => grant.push(cap),
                Err(e) => return Err(RuntimeError::Invalid(format!("manifest: {e}"))),
            }
        }
        if let Some(wider) = libos_authority::attenuate::first_not_within(&grant, &self.held) {
            let why = format!(
                "the manifest of tool {name:?} grants {wider}, which process {} does not hold",
                self.pid
            );
            return Err(self.call.refuse("tool.register", &name, why));
        }
        // One decision per call: a manifest asking for more was refused above, undecided.
        let permit = self.call.permit("tool.register", &name, Some(&args))?;
        let taken = self.image.tools.contains_key(&name)
            || self
                .kernel
                .table
                .has_registered_tool(self.pid, &name)
                .map_err(|e| RuntimeError::Io(e.to_string()))?;
        if taken {
            return Err(RuntimeError::Invalid(format!(
                "the tool table already has a tool named {name:?}"
            )));
        }
        // Nothing is stored before the decision's record is; what is stored is charged to
        // the process's `bytes_written` budget first (registering never fills the disk
        // beyond what the process may write).
        self.call.record_stored().await?;
        self.budget
            .charge(
                libos::error::LimitKind::BytesWritten,
                component.len() as u64,
            )
            .map_err(|kind| RuntimeError::LimitExceeded(kind.into()))?;
        let digest = self
            .kernel
            .images
            .put_component(&component)
            .map_err(|e| RuntimeError::Invalid(e.to_string()))?;
        let hex = digest.to_hex();
        let blob = self.kernel.images.component_path(&digest);
        let tool = self.kernel.host.load_blob(&blob, &hex).await.map_err(|e| {
            // The guest is told why, never where the state directory is.
            let why = e
                .to_string()
                .replace(&blob.display().to_string(), "the component");
            RuntimeError::Invalid(format!("tool {name:?}: {why}"))
        })?;
        let row = RegisteredTool {
            name: name.clone(),
            digest: hex.clone(),
            capabilities: granted,
            inherit: manifest.inherit,
            registrar: self.pid,
        };
        let recorded = self
            .kernel
            .table
            .register_tool(self.pid, &row)
            .map_err(|e| RuntimeError::Io(e.to_string()))?;
        if !recorded {
            return Err(RuntimeError::LimitExceeded(
                libos::bindings::libos::runtime::types::LimitKind::ToolCalls,
            ));
        }
        self.kernel.remember_tool(&hex, tool);
        if manifest.inherit {
            self.kernel
                .passing_tools
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(self.pid);
        }
        permit.done(None);
        Ok(format!("sha256:{hex}"))
    }

    /// The tools this process registered or inherited (none when the table cannot be read).
    pub(crate) fn registered_tools(&self) -> Vec<RegisteredTool> {
        self.kernel
            .table
            .registered_tools(self.pid)
            .unwrap_or_else(|e| {
                tracing::warn!(pid = self.pid, error = %e, "registered tools unreadable");
                Vec::new()
            })
    }

    /// [`ProcessCtx::registered_tool`] if this host has it loaded already.
    pub(crate) fn registered_loaded(
        &self,
        registered: &RegisteredTool,
    ) -> Option<libos::LoadedTool> {
        let tool = self.kernel.loaded_tool(&registered.digest)?;
        narrowed(&tool, registered).ok()
    }
}

impl crate::kernel::Inner {
    /// Gives child `pid` the tools `parent` registered or inherited with `inherit` (called
    /// before the child runs any code).
    pub(crate) fn pass_on_tools(&self, parent: u64, pid: u64) {
        let mut set = self
            .passing_tools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !set.contains(&parent) {
            return;
        }
        set.insert(pid);
        drop(set);
        let rows = self.table.registered_tools(parent).unwrap_or_else(|e| {
            tracing::warn!(parent, error = %e, "registered tools unreadable");
            Vec::new()
        });
        for tool in rows.into_iter().filter(|t| t.inherit) {
            if let Err(e) = self.table.register_tool(pid, &tool) {
                tracing::warn!(pid, tool = %tool.name, error = %e, "inherited tool not recorded");
            }
        }
    }
}
