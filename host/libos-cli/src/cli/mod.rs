//! Command-line interface: argument parsing, dispatch, exit codes and error printing.

mod audit;
mod checkpoint;
mod conform;
mod control;
mod detach;
mod effects;
mod events;
mod exit;
mod human;
mod image;
mod operator;
mod parse;
mod policy;
mod process;
mod serve;
mod text;
mod tool;
mod upgrade;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Agent libOS: run WebAssembly tools under capabilities, policy and a tamper-evident audit log.
#[derive(Debug, Parser)]
#[command(name = "libos", version, about, long_about = None, after_help = exit::EXIT_CODES_HELP)]
struct Cli {
    /// State directory (audit database, compiled-component cache).
    /// Default: $XDG_STATE_HOME/libos, i.e. ~/.local/state/libos.
    #[arg(long, global = true, env = "LIBOS_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// Refuse at load every component that imports the network (wasi:sockets, wasi:http)
    /// instead of serving it with each use decided at call time.
    #[arg(long, global = true)]
    strict_imports: bool,

    /// Show what the host does (cache hits, compile times) on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect or call tool components.
    #[command(subcommand)]
    Tool(tool::ToolCommand),
    /// Check whether a component is a good citizen: imports, exports and schemas, a call
    /// with sample inputs, behaviour at the fuel, memory and time limits, determinism.
    Conform(conform::ConformArgs),
    /// Work with Cedar policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Verify or show the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Build, list and inspect AgentImages.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Run an image as the root of a new process tree; prints its output.
    Run(process::RunArgs),
    /// Serve every process of the state directory until stopped: adopt and resume those
    /// whose host died.
    Serve(serve::ServeArgs),
    /// Take and list checkpoints of processes (positions in their journals).
    #[command(subcommand)]
    Checkpoint(checkpoint::CheckpointCommand),
    /// Start a new process that continues from a checkpoint (nothing before it runs again).
    Fork {
        /// The checkpoint's id or name.
        checkpoint: String,
    },
    /// Make a live process go on with another image: its host stops it and resumes it with
    /// that image, which replays its journal (one that makes other calls fails it). It keeps
    /// only the capabilities the new image also requests.
    Upgrade {
        /// The process.
        pid: u64,
        /// The image (`name`, `name:version` or `sha256:DIGEST`).
        image: String,
    },
    /// List the external effects that are (or were) in doubt after a host stopped.
    Effects(effects::EffectsArgs),
    /// List processes (from any terminal).
    Ps(process::PsArgs),
    /// Wait until a process has ended; prints its output.
    Wait {
        /// The process id.
        pid: u64,
    },
    /// Kill a process and its whole subtree.
    Kill {
        /// The process id.
        pid: u64,
    },
    /// Pause a process and its subtree: they are not scheduled until `resume`.
    Pause {
        /// The process id.
        pid: u64,
    },
    /// Resume the paused processes of a subtree.
    Resume {
        /// The process id.
        pid: u64,
    },
    /// Print what a process logged (and a WASI agent's stdout/stderr).
    Logs(control::LogsArgs),
    /// List the approval requests and questions waiting for a person.
    Approvals(human::ApprovalsArgs),
    /// Approve a request (from any terminal); the waiting process continues.
    Approve(human::ApproveArgs),
    /// Deny a request; the waiting process gets `denied`.
    Deny(human::DenyArgs),
    /// Answer a question a process asked.
    Answer(human::AnswerArgs),
    /// List or remove the standing `always` / `never` answers.
    #[command(subcommand)]
    Rules(human::RulesCommand),
    /// Emit an event (as the operator) to the processes waiting on its topic, in any host.
    Emit(events::EmitArgs),
    /// List the events still kept, oldest first.
    Events(events::EventsArgs),
}

/// Parses arguments, runs the command, prints errors as one line and maps them to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    // A reader that goes away (`libos ps | head -1`) ends the command quietly, as it does
    // any Unix tool, instead of a panic on the failed write.
    // SAFETY: setting a signal's disposition to its default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = match cli.command {
        Command::Tool(cmd) => tool::run(
            cmd,
            cli.state_dir.as_deref(),
            strictness(cli.strict_imports),
        ),
        Command::Conform(args) => conform::run(
            args,
            cli.state_dir.as_deref(),
            strictness(cli.strict_imports),
        ),
        Command::Policy(cmd) => policy::run(cmd, cli.state_dir.as_deref()),
        Command::Audit(cmd) => audit::run(cmd, cli.state_dir.as_deref()),
        Command::Image(cmd) => image::run(cmd, cli.state_dir.as_deref()),
        Command::Run(args) => process::run(
            args,
            cli.state_dir.as_deref(),
            strictness(cli.strict_imports),
        ),
        Command::Serve(args) => serve::serve(
            args,
            cli.state_dir.as_deref(),
            strictness(cli.strict_imports),
        ),
        Command::Effects(args) => effects::run(args, cli.state_dir.as_deref()),
        Command::Checkpoint(cmd) => checkpoint::run(cmd, cli.state_dir.as_deref()),
        Command::Fork { checkpoint } => checkpoint::fork(&checkpoint, cli.state_dir.as_deref()),
        Command::Upgrade { pid, image } => upgrade::upgrade(pid, &image, cli.state_dir.as_deref()),
        Command::Ps(args) => process::ps(args, cli.state_dir.as_deref()),
        Command::Wait { pid } => process::wait(pid, cli.state_dir.as_deref()),
        Command::Kill { pid } => process::kill(pid, cli.state_dir.as_deref()),
        Command::Pause { pid } => control::pause(pid, cli.state_dir.as_deref()),
        Command::Resume { pid } => control::resume(pid, cli.state_dir.as_deref()),
        Command::Logs(args) => control::logs(args, cli.state_dir.as_deref()),
        Command::Approvals(args) => human::approvals(args, cli.state_dir.as_deref()),
        Command::Approve(args) => human::approve(args, cli.state_dir.as_deref()),
        Command::Deny(args) => human::deny(args, cli.state_dir.as_deref()),
        Command::Answer(args) => human::answer(args, cli.state_dir.as_deref()),
        Command::Rules(cmd) => human::rules(cmd, cli.state_dir.as_deref()),
        Command::Emit(args) => events::emit(args, cli.state_dir.as_deref()),
        Command::Events(args) => events::events(args, cli.state_dir.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code as u8)
        }
    }
}

/// The tokio runtime commands that run guests use.
fn runtime() -> Result<tokio::runtime::Runtime, exit::Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| exit::Failure::new(exit::Code::Error, format!("starting the runtime: {e}")))
}

fn init_tracing(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("LIBOS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// The load-time treatment of network imports the `--strict-imports` flag asks for.
fn strictness(strict: bool) -> libos::wasm::validate::Strictness {
    if strict {
        libos::wasm::validate::Strictness::Strict
    } else {
        libos::wasm::validate::Strictness::Decided
    }
}
