//! `libos serve`: a host for every process of the state directory, until it is stopped.
//!
//! It adopts the processes of every host that died (`kill -9`, a crash, a closed terminal) and
//! resumes each from its journal, then keeps looking (every second) for hosts that die while it
//! serves. It runs until it is stopped (Ctrl-C, `kill`); stopped in any way, the processes it
//! served wait, as they were, for the next host that adopts them.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use libos::host::HostOptions;
use libos_process::Kernel;

use super::exit::{Code, Failure};
use super::text::clean;

/// How often `serve` looks for hosts that died.
const LOOK_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Most processes this host keeps alive at once (as for `libos run`).
    #[arg(
        long,
        env = "LIBOS_MAX_PROCESSES",
        value_name = "N",
        default_value_t = libos::wasm::engine::DEFAULT_MAX_PROCESSES,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(libos::wasm::engine::MAX_PROCESSES))
    )]
    pub max_processes: u32,
    /// Exit once this host serves no process and no host that died left any.
    #[arg(long)]
    pub until_idle: bool,
}

/// Serves the state directory until stopped (see the module docs).
pub fn serve(
    args: ServeArgs,
    state_dir: Option<&Path>,
    strict_imports: libos::wasm::validate::Strictness,
) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let kernel = Kernel::new(HostOptions {
            state_dir: state_dir.map(Path::to_path_buf),
            strict_imports,
            ..HostOptions::serving(args.max_processes)
        })
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
        eprintln!(
            "serving {} as host {}",
            kernel.host().state().root().display(),
            kernel.host_id()
        );
        loop {
            adopt(&kernel).await?;
            if args.until_idle && kernel.live_processes() == 0 {
                kernel
                    .host()
                    .flush_audit()
                    .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
                return Ok(());
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    })
}

/// Starts `libos serve --until-idle` on `state` as a background process (its own process
/// group; its messages go to `hosts/serve-<pid>.log`).
pub(super) fn in_background(state: &libos::state::StateDir) -> Result<(), Failure> {
    use std::os::unix::process::CommandExt;
    let hosts = state.hosts_dir();
    std::fs::create_dir_all(&hosts)
        .map_err(|e| Failure::new(Code::Error, format!("{}: {e}", hosts.display())))?;
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(Code::Error, format!("locating the libos binary: {e}")))?;
    let log_path = hosts.join(format!("serve-from-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Failure::new(Code::Error, format!("{}: {e}", log_path.display())))?;
    let err = log
        .try_clone()
        .map_err(|e| Failure::new(Code::Error, format!("{}: {e}", log_path.display())))?;
    std::process::Command::new(exe)
        .arg("--state-dir")
        .arg(state.root())
        .args(["serve", "--until-idle"])
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::new(Code::Error, format!("starting a background host: {e}")))?;
    Ok(())
}

/// Adopts the orphans of dead hosts into `kernel`, saying what became of each on stderr.
pub(super) async fn adopt(kernel: &Kernel) -> Result<Vec<u64>, Failure> {
    let adopted = kernel
        .adopt_orphans()
        .await
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    for pid in &adopted.resumed {
        eprintln!("process {pid} resumed");
    }
    for (pid, why) in &adopted.failed {
        eprintln!("process {pid} could not be resumed: {}", clean(why));
    }
    kernel
        .flush()
        .map_err(|e| Failure::new(Code::Error, e.to_string()))?;
    Ok(adopted.resumed)
}
