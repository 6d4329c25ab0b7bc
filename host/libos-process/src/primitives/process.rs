//! `libos:runtime/process`: spawn, wait, kill, signal, exec, self-info, send, recv.

use libos::bindings::{LimitKind, RuntimeError};
use libos::wasm::parking::parking;
use libos_authority::Capability;
use libos_proctable::{BlockedOn, MessageBody};

use crate::bindings::libos::runtime::process::{
    ExitStatus as WitExit, Host, Message, Pid, ProcessInfo, SignalKind,
};
use crate::bindings::libos::runtime::types::CapabilityRequest;
use crate::ctx::ProcessCtx;
use crate::error::ProcessError;
use crate::kernel::{Inner, Start};
use crate::status::ExitStatus;

type R<T> = wasmtime::Result<Result<T, RuntimeError>>;

/// Most capabilities a spawn may ask for its child.
const MAX_CHILD_CAPABILITIES: usize = 64;

/// Longest capability (action and resource pattern together) a spawn may ask for.
const MAX_CAPABILITY_BYTES: usize = 1024;

impl ProcessCtx {
    /// The child `pid` of this process, or `not-found`.
    fn own_child(&self, pid: u64) -> Result<(), RuntimeError> {
        match self.kernel.table.get(pid) {
            Ok(record) if record.parent == Some(self.pid) => Ok(()),
            _ => Err(RuntimeError::NotFound),
        }
    }

    /// Whether `pid` is a descendant of this process (`denied` if not, `not-found` if there
    /// is no such process).
    fn own_descendant(&mut self, action: &str, pid: u64) -> Result<(), RuntimeError> {
        let ancestors = self
            .kernel
            .table
            .ancestors(pid)
            .map_err(|_| RuntimeError::NotFound)?;
        if ancestors.iter().any(|a| a.pid == self.pid) {
            Ok(())
        } else {
            Err(self.call.refuse(
                action,
                &pid.to_string(),
                format!("process {pid} is not a descendant of process {}", self.pid),
            ))
        }
    }

    /// The current directory of a child started with `cwd` (relative to this process's own):
    /// as shown (`/` + the path from the tree's root). It must name a directory inside the
    /// working directory reached through no symbolic link. The working directory stays the
    /// tree's root: capabilities, policy and records name paths from it, so a child's `cwd`
    /// never changes what it may touch.
    fn child_cwd(&mut self, cwd: &str) -> Result<String, RuntimeError> {
        let own = crate::ctx::cwd_relative(&self.cwd);
        let joined = if let Some(from_root) = cwd.strip_prefix('/') {
            from_root.to_owned()
        } else if own.is_empty() {
            cwd.to_owned()
        } else {
            format!("{own}/{cwd}")
        };
        let rel = libos::primitives::path::normalize(&joined).map_err(|_| {
            RuntimeError::Invalid(format!("cwd {cwd:?} leaves the working directory"))
        })?;
        // The state directory is out of reach: no child starts in it (all it could do there
        // would be refused anyway, but it is not somewhere a process is).
        self.call.refuse_reserved("process.spawn", &rel)?;
        let dir = self.workdir.join(&rel);
        if !dir.is_dir() {
            return Err(RuntimeError::Invalid(format!(
                "cwd {cwd:?} is not a directory"
            )));
        }
        // Reached through no link: a link inside the working directory may lead outside it,
        // or to another directory than the one its name says.
        let direct = match (dir.canonicalize(), self.workdir.canonicalize()) {
            (Ok(child), Ok(root)) => child == root.join(&rel),
            _ => false,
        };
        if !direct {
            return Err(self.call.refuse(
                "process.spawn",
                &rel,
                format!("cwd {cwd:?} is reached through a symbolic link"),
            ));
        }
        Ok(format!("/{rel}"))
    }

    async fn do_spawn(
        &mut self,
        image: String,
        input: String,
        requested: Vec<CapabilityRequest>,
        cwd: Option<String>,
    ) -> Result<u64, RuntimeError> {
        // A malformed reference is refused before it is decided on (or audited).
        libos_image::check_reference(&image).map_err(|e| ProcessError::from(e).to_runtime())?;
        // So is a request for more capabilities, or longer patterns, than any child needs:
        // each is stored with the child and compiled by the host.
        if requested.len() > MAX_CHILD_CAPABILITIES {
            return Err(RuntimeError::Invalid(format!(
                "{} capabilities asked for a child; at most {MAX_CHILD_CAPABILITIES}",
                requested.len()
            )));
        }
        if let Some(long) = requested
            .iter()
            .find(|c| c.action.len() + c.resource.len() > MAX_CAPABILITY_BYTES)
        {
            return Err(RuntimeError::Invalid(format!(
                "capability of {} bytes asked for a child; at most {MAX_CAPABILITY_BYTES}",
                long.action.len() + long.resource.len()
            )));
        }
        let name = image.split(':').next().unwrap_or_default().to_owned();
        // Everything the child is started with is part of what is decided (and what an
        // approval is bound to): the full reference, the input, the capabilities, the cwd.
        let caps: Vec<String> = requested
            .iter()
            .map(|c| format!("{}:{}", c.action, c.resource))
            .collect();
        let digest = libos::call::digest(&[
            b"process.spawn",
            image.as_bytes(),
            input.as_bytes(),
            caps.join("\n").as_bytes(),
            cwd.as_deref().unwrap_or("").as_bytes(),
        ]);
        let permit = self.call.permit("process.spawn", &name, Some(&digest))?;
        if self.children_started >= u64::from(self.image.limits.max_children) {
            return Err(RuntimeError::LimitExceeded(LimitKind::Children));
        }
        let mut caps = Vec::with_capacity(requested.len());
        for r in &requested {
            let cap = Capability::new(r.action.clone(), r.resource.clone()).map_err(|e| {
                RuntimeError::Invalid(format!("capability {}:{}: {e}", r.action, r.resource))
            })?;
            caps.push(cap);
        }
        if let Some(wider) = libos_authority::attenuate::first_not_within(&caps, &self.held) {
            return Err(self.call.refuse(
                "process.spawn",
                &name,
                format!(
                    "cannot grant {wider} to a child: process {} does not hold it",
                    self.pid
                ),
            ));
        }
        let shown = match cwd {
            None => self.cwd.clone(),
            Some(rel) => self.child_cwd(&rel)?,
        };
        // The child runs no code before this spawn's record is stored (it fails unstarted if
        // the record cannot be); the parent does not wait for the disk meanwhile.
        let recorded = self.call.record_pending();
        let start = Start {
            image,
            input,
            capabilities: Some(caps),
            workdir: self.workdir.clone(),
            cwd: shown,
            parent: Some(self.pid),
        };
        self.budget
            .charge(libos::error::LimitKind::Children, 1)
            .map_err(|kind| RuntimeError::LimitExceeded(kind.into()))?;
        let started = Inner::start(
            &self.kernel,
            start,
            Some((&self.policy, &self.policy_chain)),
            Some(recorded),
            self.spawning_at.take(),
        )
        .await
        .map_err(|e| e.to_runtime());
        match started {
            Ok(pid) => {
                self.children_started += 1;
                permit.done(None);
                Ok(pid)
            }
            Err(e) => {
                // An approval used for a spawn that failed (a limit, a bad image) goes back
                // with the permit.
                self.budget.refund(libos::error::LimitKind::Children, 1);
                Err(e)
            }
        }
    }
}

impl Host for ProcessCtx {
    async fn spawn(
        &mut self,
        image: String,
        input: String,
        capabilities: Vec<CapabilityRequest>,
        cwd: Option<String>,
    ) -> R<Pid> {
        Ok(self.do_spawn(image, input, capabilities, cwd).await)
    }

    async fn wait(&mut self, pid: Pid) -> R<WitExit> {
        parking(self.wait_for_child(pid)).await
    }

    async fn kill(&mut self, pid: Pid) -> R<()> {
        if let Err(e) = self.own_descendant("process.kill", pid) {
            return Ok(Err(e));
        }
        let permit = match self
            .call
            .permit("process.kill", &format!("descendants/{pid}"), None)
        {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = self.call.record_stored().await {
            return Ok(Err(e));
        }
        let killed = self
            .kernel
            .kill(pid)
            .map(|_| ())
            .map_err(|e| e.to_runtime());
        if killed.is_ok() {
            permit.done(None);
        }
        Ok(killed)
    }

    async fn signal(&mut self, pid: Pid, kind: SignalKind) -> R<()> {
        // `terminate` is `kill`: decided and audited as `process.kill`.
        if let SignalKind::Terminate = kind {
            return self.kill(pid).await;
        }
        if let Err(e) = self.own_descendant("process.signal", pid) {
            return Ok(Err(e));
        }
        let permit = match self
            .call
            .permit("process.signal", &format!("descendants/{pid}"), None)
        {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = self.call.record_stored().await {
            return Ok(Err(e));
        }
        let kernel = &self.kernel;
        let done = match kind {
            SignalKind::Interrupt => kernel.deliver(pid, self.pid, &MessageBody::Interrupt),
            SignalKind::Pause => kernel.pause(pid).map(|_| ()),
            SignalKind::Resume => kernel.resume(pid).map(|_| ()),
            SignalKind::Terminate => kernel.kill(pid).map(|_| ()),
        };
        if done.is_ok() {
            permit.done(None);
        }
        Ok(done.map_err(|e| e.to_runtime()))
    }

    async fn exec(&mut self, image: String, input: String) -> R<()> {
        match self.prepare_exec(image, input).await {
            // Unwinds the instance; the run loop starts the prepared image in its place.
            Ok(exec) => {
                self.exec = Some(exec);
                Err(wasmtime::Error::msg("process replaced its image (exec)"))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    async fn self_info(&mut self) -> wasmtime::Result<ProcessInfo> {
        Ok(ProcessInfo {
            pid: self.pid,
            parent: self.parent,
            image: self.image.reference(),
            cwd: self.cwd.clone(),
            capabilities: self
                .capabilities
                .iter()
                .map(|c| CapabilityRequest {
                    action: c.action.clone(),
                    resource: c.resource.clone(),
                })
                .collect(),
        })
    }

    async fn send(&mut self, to: Pid, body: String) -> R<()> {
        Ok(self.do_send(to, body).await)
    }

    async fn recv(&mut self, timeout_ms: Option<u64>) -> R<Option<Message>> {
        Ok(parking(self.do_recv(timeout_ms)).await)
    }

    /// A journal operation (`journal/snapshot.rs`).
    async fn snapshot(&mut self, state: Vec<u8>) -> R<()> {
        self.take_snapshot(state).await
    }
}

impl ProcessCtx {
    /// `process.wait`: blocked until child `pid` ends.
    async fn wait_for_child(&mut self, pid: Pid) -> R<WitExit> {
        if let Err(e) = self.own_child(pid) {
            return Ok(Err(e));
        }
        let permit = match self
            .call
            .permit("process.wait", &format!("children/{pid}"), None)
        {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        permit.done(None);
        self.block(BlockedOn::Child(pid));
        let status = self.kernel.wait(pid).await;
        self.unblock();
        Ok(match status {
            Ok(ExitStatus::Exited(out)) => Ok(WitExit::Exited(out)),
            Ok(ExitStatus::Failed(why)) => Ok(WitExit::Failed(why)),
            Ok(ExitStatus::Killed) => Ok(WitExit::Killed),
            Err(e) => Err(e.to_runtime()),
        })
    }
}
