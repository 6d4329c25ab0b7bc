//! `CallCtx`: the state of one tool call (the data of its wasmtime `Store`).

use std::sync::Arc;

use libos_authority::{Request, Session};
use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::RuntimeError;
use crate::limits::Limits;
use crate::primitives::log::CallLog;
use crate::primitives::path::PathError;
use crate::providers::Clock;
use crate::wasm::limiter::CallLimiter;
use crate::wasm::net::NetState;
use crate::wasm::net::gate::NetGate;
use crate::wasm::wasi::WasiSetup;
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// The longest resource (path, name, key) a primitive decides on, in bytes.
pub const MAX_RESOURCE: usize = 4096;

/// Everything one call of a component can reach. Primitives are implemented on this type;
/// all their authority comes from a [`crate::permit::Permit`] ([`CallCtx::permit`]).
pub struct CallCtx {
    pub(crate) subject: Arc<str>,
    pub(crate) authority: Session,
    pub(crate) workdir: Option<Arc<cap_std::fs::Dir>>,
    /// The working directory's host path (where shell commands run).
    pub(crate) workdir_path: Option<Arc<std::path::Path>>,
    /// The working directory's canonical host path (what kernel confinement names).
    pub(crate) workdir_canonical: Option<Arc<std::path::Path>>,
    /// The caller's current directory, relative to the working directory (`""`: the working
    /// directory itself): where its relative paths start, never what they may reach.
    pub(crate) cwd: Arc<str>,
    /// Where the state directory lies in the working directory: out of reach of every
    /// primitive (see [`CallCtx::refuse_reserved`]).
    pub(crate) reserved: Arc<crate::reserved::Reserved>,
    /// The state directory's canonical host path.
    pub(crate) state_root: Arc<std::path::Path>,
    pub(crate) limits: Limits,
    pub(crate) limiter: CallLimiter,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) log: CallLog,
    /// Whether `log.write` was decided for this call, and how (decided at its first message).
    pub(crate) log_permitted: Option<bool>,
    pub(crate) meter: Option<Arc<dyn crate::meter::Meter>>,
    pub(crate) wasi: Wasi,
    pub(crate) table: ResourceTable,
    /// Whether `wasi:filesystem` preopens the working directory (the call holds an `fs.*`
    /// capability); every operation is still decided (see `wasm/wasi_fs.rs`).
    pub(crate) wasi_fs: bool,
    /// The path, relative to the working directory, of each open WASI directory descriptor
    /// (by resource index), which the paths a guest names through it are relative to.
    pub(crate) wasi_dirs: std::collections::HashMap<u32, String>,
    /// The human queue the calls of a process consult when the policy asks.
    pub(crate) human: Option<crate::approval::HumanLink>,
    /// The journal entry of the effect under way, if the process's journal numbered it: a
    /// grant used for it is noted there ([`crate::approval::NoteGrant`]).
    pub(crate) effect_entry: Option<u64>,
}

impl CallCtx {
    /// Says which journal entry the effect about to run is (`None` once it is done, or for
    /// a call that is not an effect).
    pub fn set_effect_entry(&mut self, entry: Option<u64>) {
        self.effect_entry = entry;
    }

    /// The resource limiter of this call (for a store built around the context).
    pub fn limiter_mut(&mut self) -> &mut CallLimiter {
        &mut self.limiter
    }

    /// Hands the audit records this call's session holds to the log (see
    /// [`Session::hand_off`]); call it at time slice boundaries and before parking.
    pub fn hand_off_audit(&mut self) {
        self.authority.hand_off();
    }

    /// The human queue this context's calls consult when the policy asks, if any.
    pub fn human(&self) -> Option<&crate::approval::HumanLink> {
        self.human.as_ref()
    }

    /// The working directory's canonical host path, if the call has one.
    pub fn workdir_canonical(&self) -> Option<&std::path::Path> {
        self.workdir_canonical.as_deref()
    }

    /// The state directory's canonical host path (out of reach of every primitive).
    pub fn state_root(&self) -> &std::path::Path {
        &self.state_root
    }

    /// The subject this context decides for.
    pub fn subject(&self) -> &Arc<str> {
        &self.subject
    }

    /// The messages logged through the `log` primitive so far.
    pub fn log(&self) -> &CallLog {
        &self.log
    }

    /// The log of this call, to take its messages ([`CallLog::drain`]).
    pub fn log_mut(&mut self) -> &mut CallLog {
        &mut self.log
    }

    /// Records a refusal of `action` on `resource` decided before any capability or policy
    /// applies (e.g. a child asking for more than its parent holds) as an audited denial, and
    /// returns the error the guest receives.
    pub fn refuse(&mut self, action: &str, resource: &str, reason: String) -> RuntimeError {
        let request = Request {
            subject: &self.subject,
            action,
            resource,
            args_digest: None,
            detail: None,
        };
        self.authority.refuse(&request, &reason);
        RuntimeError::Denied(reason)
    }

    /// Refuses (audited, as a denial naming the state directory) an `action` on the normalized
    /// relative `path` when it is the state directory or lies inside it; `Ok` otherwise.
    /// Every primitive that touches a path of the working directory asks this on the path it
    /// will really touch, whatever the capabilities and the policy say.
    pub fn refuse_reserved(&mut self, action: &str, path: &str) -> Result<(), RuntimeError> {
        if crate::primitives::beneath::temporary_of(path).is_some() {
            let reason = format!(
                "{action} {path:?}: the name is reserved for the runtime's temporary files"
            );
            return Err(self.refuse(action, path, reason));
        }
        if !self.reserved.covers(path) {
            return Ok(());
        }
        let reason = format!(
            "{action} {path:?}: the runtime's state directory is out of reach of every primitive"
        );
        Err(self.refuse(action, path, reason))
    }

    /// Refuses a call whose path `named` tries to leave the working directory or is not a
    /// path at all (a NUL byte, too long), recording the attempt as a denial in the audit log.
    pub(crate) fn refuse_path(
        &mut self,
        action: &str,
        named: &str,
        err: PathError,
    ) -> RuntimeError {
        match err {
            PathError::Escapes(path) => {
                let reason = format!("path {path:?} leads outside the working directory");
                let request = Request {
                    subject: &self.subject,
                    action,
                    resource: &path,
                    args_digest: None,
                    detail: None,
                };
                self.authority.refuse(&request, &reason);
                RuntimeError::Denied(reason)
            }
            PathError::Invalid(m) => {
                // Recorded too, the path cut short and its NUL bytes shown (it may be huge).
                let resource = shown_cut(named);
                let request = Request {
                    subject: &self.subject,
                    action,
                    resource: &resource,
                    args_digest: None,
                    detail: None,
                };
                self.authority.refuse(&request, &m);
                RuntimeError::Invalid(m)
            }
            PathError::NotFound => RuntimeError::NotFound,
            PathError::Io(m) => RuntimeError::Io(m),
        }
    }
}

/// At most the first 64 bytes of `path` (a longer one marked `…`), NUL bytes shown as `\0`:
/// what a record names of a path refused as malformed.
fn shown_cut(path: &str) -> String {
    let mut cut = path.len().min(64);
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut shown = path[..cut].replace('\0', "\\0");
    if cut < path.len() {
        shown.push('…');
    }
    shown
}

/// SHA-256 over length-prefixed parts: the argument digest recorded with a decision.
pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The WASI context of a call. Most components never use WASI (ours import only the
/// runtime's interfaces), and a WASI context costs a few random generators and a kilobyte or
/// two that a parked process would keep: it is built when the component first calls a WASI
/// function, with the call's network state (whose gate its sockets check).
pub(crate) struct Wasi {
    built: Option<Box<(WasiCtx, NetState)>>,
    setup: Box<WasiSetup>,
}

impl Wasi {
    /// A context built from `setup` on first use.
    pub(crate) fn later(setup: WasiSetup) -> Self {
        Wasi {
            built: None,
            setup: Box::new(setup),
        }
    }

    fn built(&mut self) -> &mut (WasiCtx, NetState) {
        let setup = &self.setup;
        self.built.get_or_insert_with(|| {
            let gate = Arc::new(NetGate::default());
            let ctx = crate::wasm::wasi::build_ctx(setup, Arc::clone(&gate));
            Box::new((ctx, NetState::new(gate)))
        })
    }

    fn get(&mut self) -> &mut WasiCtx {
        &mut self.built().0
    }

    /// The call's network state.
    pub(crate) fn net(&mut self) -> &mut NetState {
        &mut self.built().1
    }
}

impl WasiView for CallCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: self.wasi.get(),
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let net = self.wasi.net();
        WasiHttpCtxView {
            ctx: &mut net.http,
            hooks: &mut net.hooks,
            table: &mut self.table,
        }
    }
}

impl CallCtx {
    /// The clock this call reads (the host's provider).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }
}

impl crate::bindings::libos::runtime::types::Host for CallCtx {}
