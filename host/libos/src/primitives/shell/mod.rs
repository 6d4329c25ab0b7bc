//! `libos:runtime/shell`: running a program from an argv, decided as what it would really do.
//!
//! See `wit/shell.wit` for the contract: no shell string ever, syntax refused, wrappers looked
//! through, the call decided as `shell.<class>` on the acting program (so a policy can allow
//! `shell.exec` on an allowlist and still ask for, or deny, anything destructive, networked or
//! interpreted), run in the working directory with an empty environment, no stdin, a timeout
//! and capped output.

pub mod classify;
mod exec;

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
        let args_digest = {
            let parts: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            let mut all = vec![b"shell.run".as_slice()];
            all.extend(parts);
            digest(&all)
        };
        if let Some(asking) = self.decide(action, &decided.program, Some(&args_digest))? {
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
            self.consult_human(
                (action, &decided.program),
                Some(&args_digest),
                asking,
                &describe,
            )?;
        }
        let Some(cwd) = self.workdir_path.clone() else {
            self.settle_grant(false, None);
            return Err(RuntimeError::Denied(
                "the call has no working directory".into(),
            ));
        };
        let requested = timeout_ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let timeout = requested.min(self.limits.timeout);
        let cap = self.limits.max_output.min(MAX_STREAM);
        match exec::run(&argv, &cwd, timeout, cap).await {
            Ok(done) => {
                self.settle_grant(true, None);
                Ok(Output {
                    exit_code: done.exit_code,
                    stdout: done.stdout,
                    stderr: done.stderr,
                    truncated: done.truncated,
                    timed_out: done.timed_out,
                })
            }
            Err(exec::NotRun::NotFound(program)) => {
                self.settle_grant(false, None);
                Err(RuntimeError::Invalid(format!(
                    "program {program:?} not found (looked in {PATH}, or the working directory for a path)"
                )))
            }
            Err(exec::NotRun::Io(m)) => {
                self.settle_grant(false, None);
                Err(RuntimeError::Io(m))
            }
        }
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
            // Looked at before opening: opening a FIFO would block the host.
            let Ok(meta) = dir.metadata(arg) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let Ok(file) = dir.open(arg) else { continue };
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

    fn preview(&self, _: &CallCtx, program: &str) -> String {
        format!(
            "run {}\nas {} on {program}{}, in the working directory, empty environment, no stdin",
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
