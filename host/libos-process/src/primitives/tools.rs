//! `libos:runtime/tools`: the tool table of the process: its image's tools and the ones it
//! registered (or inherited) at run time (`register.rs`).

use std::sync::Arc;

use libos::bindings::RuntimeError;
use libos::host::CallOptions;
use libos::{CallFailure, Limits};

use crate::bindings::libos::runtime::tools::{Host, ToolManifest};
use crate::bindings::libos::runtime::types::{CapabilityRequest, ToolError, ToolInfo};
use crate::ctx::ProcessCtx;

fn described(info: &libos::host::ToolDescription) -> ToolInfo {
    ToolInfo {
        name: info.name.clone(),
        description: info.description.clone(),
        input_schema: info.input_schema.to_string(),
        capabilities: info
            .capabilities
            .iter()
            .filter_map(|c| c.split_once(':'))
            .map(|(a, r)| CapabilityRequest {
                action: a.to_owned(),
                resource: r.to_owned(),
            })
            .collect(),
    }
}

impl Host for ProcessCtx {
    async fn list(&mut self) -> wasmtime::Result<Vec<ToolInfo>> {
        // Tools are described when first loaded; list what the image names, loaded or not,
        // from their recorded descriptions.
        let mut out = Vec::new();
        let loaded = self
            .kernel
            .tools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (name, component) in &self.image.tools {
            let info = loaded.get(&component.digest.to_string()).map(|t| &t.info);
            out.push(match info {
                Some(info) => described(info),
                None => ToolInfo {
                    name: name.clone(),
                    description: String::new(),
                    input_schema: "{}".into(),
                    capabilities: Vec::new(),
                },
            });
        }
        // Registered tools, under the name and with the capabilities their manifest gave.
        for registered in self.registered_tools() {
            let mut info = match self.registered_loaded(&registered) {
                Some(tool) => described(&tool.info),
                None => ToolInfo {
                    name: String::new(),
                    description: String::new(),
                    input_schema: "{}".into(),
                    capabilities: Vec::new(),
                },
            };
            info.name = registered.name;
            out.push(info);
        }
        Ok(out)
    }

    async fn call(
        &mut self,
        name: String,
        input: String,
    ) -> wasmtime::Result<Result<String, ToolError>> {
        let digest = libos::call::digest(&[b"tools.call", name.as_bytes(), input.as_bytes()]);
        let permit = match self.call.permit("tools.call", &name, Some(&digest)) {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(ToolError::Runtime(e))),
        };
        let tool = match self.kernel.tool(&self.image, &name).await {
            Ok(tool) => tool,
            Err(crate::error::ProcessError::NotFound(_)) => {
                let found = self.registered_tools().into_iter().find(|t| t.name == name);
                let Some(registered) = found else {
                    return Ok(Err(ToolError::Runtime(RuntimeError::NotFound)));
                };
                let kernel = Arc::clone(&self.kernel);
                match super::register::registered_tool(kernel, registered).await {
                    Ok(tool) => Arc::new(tool),
                    Err(e) => return Ok(Err(ToolError::Runtime(e))),
                }
            }
            Err(e) => return Ok(Err(ToolError::Runtime(e.to_runtime()))),
        };
        if let Err(kind) = self.budget.charge(libos::error::LimitKind::ToolCalls, 1) {
            return Ok(Err(ToolError::Runtime(RuntimeError::LimitExceeded(
                kind.into(),
            ))));
        }
        self.hand_off();
        let options = CallOptions {
            on_behalf_of: Some(self.pid),
            capabilities: self.capabilities.clone(),
            policy: self.policy.clone(),
            workdir: Some(self.workdir.clone()),
            cwd: crate::ctx::cwd_relative(&self.cwd),
            limits: Limits::default(),
            seed: libos::host::Seed::Fresh,
            meter: Some(self.budget.clone()),
            // The process's own link: its grants, its image's rules (shared, not rebuilt).
            human: self.call.human().cloned(),
        };
        let report = self.kernel.host.call(&tool, &input, &options).await;
        // The tool ran: the call was made, whatever the tool answered.
        permit.done(None);
        Ok(report.result.map_err(to_tool_error))
    }

    async fn register(
        &mut self,
        component: Vec<u8>,
        manifest: ToolManifest,
    ) -> wasmtime::Result<Result<String, ToolError>> {
        Ok(self
            .register_tool(component, manifest)
            .await
            .map_err(ToolError::Runtime))
    }
}

fn to_tool_error(failure: CallFailure) -> ToolError {
    match failure {
        CallFailure::Denied(m) => ToolError::Runtime(RuntimeError::Denied(m)),
        CallFailure::NeedsApproval(id) => ToolError::Runtime(RuntimeError::NeedsApproval(id)),
        CallFailure::LimitExceeded(kind) => {
            ToolError::Runtime(RuntimeError::LimitExceeded(kind.into()))
        }
        CallFailure::InvalidInput(m) => ToolError::InvalidInput(m),
        CallFailure::Failed(m) => ToolError::Failed(m),
        CallFailure::Trap(m) => ToolError::Failed(format!("tool trapped: {m}")),
        CallFailure::Host(m) => ToolError::Runtime(RuntimeError::Io(m)),
    }
}
