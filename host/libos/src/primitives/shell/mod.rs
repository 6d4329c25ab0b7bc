//! `libos:runtime/shell`: running a program from an argv, decided as what it would really do.
//!
//! See `wit/shell.wit` for the contract: no shell string ever, syntax refused, wrappers looked
//! through, the call decided as `shell.<class>` on the acting program (so a policy can allow
//! `shell.exec` on an allowlist and still ask for, or deny, anything destructive, networked or
//! interpreted), run in the working directory with an empty environment, no stdin, a timeout
//! and capped output, confined by the kernel to what the process's capabilities grant (see
//! [`confine`]; where the kernel cannot confine it, refused unless the process holds
//! `shell.unconfined`).

pub mod classify;
pub mod confine;
mod exec;
pub mod grants;
mod privileges;
pub mod rules;
mod seccomp;
mod spawn;

use std::time::Duration;

use crate::approval::Describe;
use crate::bindings::RuntimeError;
use crate::bindings::libos::runtime::shell::{Host, Output};
use crate::call::{CallCtx, digest};

pub use exec::PATH;

/// Most arguments a command may have.
pub const MAX_ARGS: usize = 256;

/// Largest argument, in bytes.
pub const MAX_ARG: usize = 4096;

/// Timeout when the caller gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Most output kept per stream.
pub const MAX_STREAM: usize = 1 << 20;

type R<T> = Result<T, RuntimeError>;

impl CallCtx {
    async fn shell_run(&mut self, argv: Vec<String>, timeout_ms: Option<u64>) -> R<Output> {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(RuntimeError::Invalid(
                "argv is empty: name a program".into(),
            ));
        }
        if argv.len() > MAX_ARGS {
            return Err(RuntimeError::Invalid(format!(
                "{} arguments; at most {MAX_ARGS}",
                argv.len()
            )));
        }
        if let Some(i) = argv
            .iter()
            .position(|a| a.len() > MAX_ARG || a.contains('\0'))
        {
            return Err(RuntimeError::Invalid(format!(
                "argument {i} is longer than {MAX_ARG} bytes or holds a NUL byte"
            )));
        }
        let decided = classify::classify(&argv);
        if let Some((i, syntax)) = classify::syntax_of(&argv) {
            let reason = format!(
                "argument {i} is shell syntax (`{syntax}`): no shell interprets it, and an \
                 effect it hides (a redirection, a pipeline, a second command) is not asked \
                 for; use argv only, and fs.write for files"
            );
            return Err(self.refuse(decided.class.action(), &decided.program, reason));
        }
        let action = decided.class.action();
        let abi = confine::kernel_abi();
        let network = self.shell_may_connect(&decided.program);
        // Asked only where the kernel falls short: an unconfined run needs the policy's allow.
        let unconfined = confine::lacking(abi, network).is_some()
            && self
                .shell_grants()
                .allows_explicitly(UNCONFINED, &decided.program);
        let case = confine::case(abi, network, unconfined);
        match &case {
            confine::Case::Confined { .. } => {}
            confine::Case::Unconfined { .. } => {
                // Audited: the command runs with the host user's whole access.
                self.permit(UNCONFINED, &decided.program, None)?.done(None);
            }
            confine::Case::Refused { why_not } => {
                let reason = format!(
                    "the kernel cannot confine the command ({why_not}); running it unconfined \
                     needs a {UNCONFINED} capability the policy permits"
                );
                return Err(self.refuse(UNCONFINED, &decided.program, reason));
            }
        }
        let args_digest = {
            let parts: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            let mut all = vec![b"shell.run".as_slice()];
            all.extend(parts);
            digest(&all)
        };
        let shown = serde_json::to_string(&argv).unwrap_or_default();
        let through = if decided.through.is_empty() {
            String::new()
        } else {
            format!(" (through {})", decided.through.join(", "))
        };
        let describe = Command {
            shown,
            action,
            through,
            argv: &argv,
        };
        let permit =
            self.permit_described(action, &decided.program, Some(&args_digest), &describe)?;
        let Some(root) = self.workdir_path.clone() else {
            return Err(RuntimeError::Denied(
                "the call has no working directory".into(),
            ));
        };
        let cwd = if self.cwd.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&*self.cwd)
        };
        let requested = timeout_ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let timeout = requested.min(self.limits.timeout);
        let cap = self.limits.max_output.min(MAX_STREAM);
        let confinement = match case {
            confine::Case::Confined { abi } => Some(self.shell_confinement(abi, network, timeout)?),
            _ => None,
        };
        // A command acts the moment it starts (and may outlive a crash of the host's
        // bookkeeping): its record is stored first, or it does not start.
        self.record_stored().await?;
        match exec::run(&argv, &cwd, timeout, cap, confinement.as_ref()).await {
            Ok(done) => {
                permit.done(None);
                Ok(Output {
                    exit_code: done.exit_code,
                    stdout: done.stdout,
                    stderr: done.stderr,
                    truncated: done.truncated,
                    timed_out: done.timed_out,
                })
            }
            Err(exec::NotRun::NotFound(program)) => Err(RuntimeError::Invalid(format!(
                "program {program:?} not found (looked in {PATH}, or the working directory for a path)"
            ))),
            Err(exec::NotRun::Io(m)) => Err(RuntimeError::Io(m)),
        }
    }
}

/// The action that lets a command run without kernel confinement where the kernel cannot
/// confine it (decided on the acting program).
pub const UNCONFINED: &str = "shell.unconfined";

/// The action that lets a command connect and bind TCP sockets (decided on the acting
/// program; the one a network program is decided as).
pub const NETWORK: &str = "shell.network";

impl CallCtx {
    /// What this call's authority grants a command (asked without auditing).
    fn shell_grants(&self) -> grants::Grants<'_> {
        grants::Grants::new(self.authority.authority(), &self.subject)
    }

    /// Whether a command acting as `program` may use TCP: the process holds
    /// `shell.network` on it and no policy forbids it.
    fn shell_may_connect(&self, program: &str) -> bool {
        self.shell_grants().permits(NETWORK, program)
    }

    /// The kernel ruleset for one command: the working directory's rules for `fs.read` and
    /// `fs.write` (see [`rules`]), TCP unless `network`, limits from the call's.
    fn shell_confinement(
        &self,
        abi: u8,
        network: bool,
        timeout: Duration,
    ) -> R<confine::Confinement> {
        let Some(root) = self.workdir_canonical.clone() else {
            return Err(RuntimeError::Denied(
                "the call has no working directory".into(),
            ));
        };
        let grants = self.shell_grants();
        let tree = rules::Tree::walk(&root, &self.reserved);
        let read = tree.plan("fs.read", &self.reserved, &grants);
        let write = tree.plan("fs.write", &self.reserved, &grants);
        if read.cut_short || write.cut_short {
            tracing::warn!(
                workdir = %root.display(),
                max = rules::MAX_ENTRIES,
                "the working directory has more entries than a shell command's rules look at; \
                 what was not looked at is not granted to the command"
            );
        }
        let workdir = confine::Workdir {
            root: &root,
            read: &read,
            write: &write,
            state: &self.state_root,
        };
        let limits = confine::ChildLimits::of(&self.limits, timeout);
        confine::Confinement::build(abi, &workdir, network, limits)
            .map_err(|e| RuntimeError::Io(e.to_string()))
    }
}

/// A command as a person sees it.
struct Command<'a> {
    shown: String,
    action: &'static str,
    through: String,
    argv: &'a [String],
}

/// Most bytes of one file a command's version reads (its size is hashed too).
const MAX_VERSIONED: u64 = 4 << 20;

impl Describe for Command<'_> {
    /// The files of the working directory the command names (a script, its input): an
    /// approval covers them as they were, so rewriting `run.sh` after `./run.sh` was
    /// approved asks again.
    fn version(&self, ctx: &CallCtx, _: &str) -> Option<String> {
        use sha2::Digest as _;
        use std::io::Read as _;
        let dir = ctx.workdir.as_deref()?;
        let mut hasher = sha2::Sha256::new();
        let mut any = false;
        for arg in self.argv {
            // Relative to where the command runs (cap-std keeps it inside the directory).
            let at = if ctx.cwd.is_empty() {
                arg.clone()
            } else {
                format!("{}/{arg}", ctx.cwd)
            };
            // Looked at before opening: opening a FIFO would block the host.
            let Ok(meta) = dir.metadata(&at) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let Ok(file) = dir.open(&at) else { continue };
            let mut bytes = Vec::new();
            if file.take(MAX_VERSIONED).read_to_end(&mut bytes).is_err() {
                continue;
            }
            hasher.update((arg.len() as u64).to_le_bytes());
            hasher.update(arg.as_bytes());
            hasher.update(meta.len().to_le_bytes());
            hasher.update(&bytes);
            any = true;
        }
        any.then(|| format!("files:{}", hex::encode(hasher.finalize())))
    }

    fn rule_resource(&self, _: &str) -> String {
        libos_human::command_line(self.argv)
    }

    /// The whole argv, as JSON (cut to `libos_audit::MAX_DETAIL` bytes by the log).
    fn detail(&self) -> Option<String> {
        Some(self.shown.clone())
    }

    /// Its first line, `run <argv as JSON>`, is what a standing rule answered on the request
    /// binds to (see `libos_human::rules`).
    fn preview(&self, ctx: &CallCtx, program: &str) -> String {
        let place = if ctx.cwd.is_empty() {
            "the working directory".to_owned()
        } else {
            format!("{:?} of the working directory", &*ctx.cwd)
        };
        format!(
            "run {}\nas {} on {program}{}, in {place}, empty environment, no stdin",
            self.shown, self.action, self.through
        )
    }
}

impl Host for CallCtx {
    async fn run(
        &mut self,
        argv: Vec<String>,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<R<Output>> {
        Ok(self.shell_run(argv, timeout_ms).await)
    }
}
