//! `libos upgrade PID IMAGE`: a live process goes on with another image, explicitly (a
//! process otherwise runs the digest it started with, whatever is rebuilt). The host that runs
//! it stops it and resumes it with the new image, which replays the process's journal and
//! goes on live; one that makes other calls fails the process with a divergence naming the
//! entry, having executed nothing (`libos_process` `upgrade.rs`). The process keeps only
//! those of its capabilities the new image also requests, and the new image's policy is
//! added in front of its chain. Audited as `process.upgrade` on `process/PID` before it acts.

use std::path::Path;
use std::time::{Duration, Instant};

use libos::state::StateDir;
use libos_proctable::ProcessTable;

use super::exit::{Code, Failure};
use super::text::clean;

/// How long `upgrade` waits for a running host to apply it.
const UPGRADE_WAIT: Duration = Duration::from_secs(10);

fn error(e: impl std::fmt::Display) -> Failure {
    Failure::new(Code::Error, e.to_string())
}

/// Asks for the upgrade of `pid` to `image` and says when the host running it has applied it.
pub fn upgrade(pid: u64, image: &str, state_dir: Option<&Path>) -> Result<(), Failure> {
    let state = StateDir::open(state_dir)?;
    let table = ProcessTable::open(state.db_path()).map_err(error)?;
    let record = table
        .get(pid)
        .map_err(|_| Failure::new(Code::NotFound, format!("no process {pid}")))?;
    if record.state.is_ended() {
        return Err(error(format!("process {pid} has ended")));
    }
    if table.resume_of(pid).map_err(error)?.is_none() {
        return Err(error(format!(
            "process {pid} cannot be resumed, so not upgraded"
        )));
    }
    let images = libos_image::ImageStore::open(state.root()).map_err(error)?;
    let target = images.get(image).map_err(|e| {
        Failure::new(
            Code::NotFound,
            format!("image {}: {}", clean(image), clean(&e.to_string())),
        )
    })?;
    let reference = target.reference();
    let digest = target.digest.to_string();
    if digest == record.image_digest {
        return Err(error(format!(
            "process {pid} already runs {reference} (sha256:{digest})"
        )));
    }
    super::operator::record(
        state_dir,
        "process.upgrade",
        &format!("process/{pid}"),
        &format!("operator: libos upgrade to {reference} (sha256:{digest})"),
    )?;
    table.request_upgrade(pid, &digest).map_err(error)?;
    let hosts = state.hosts_dir();
    let started = Instant::now();
    while started.elapsed() < UPGRADE_WAIT {
        let pending = table.pending_upgrades().map_err(error)?;
        if !pending.iter().any(|(p, _)| *p == pid) {
            let now = table.get(pid).map_err(error)?;
            if now.image_digest == digest {
                println!("process {pid} now runs {reference} (sha256:{digest})");
                return Ok(());
            }
            return Err(error(format!(
                "process {pid} was not upgraded: its host could not load {reference} \
                 (see the host's log); it goes on with {}",
                clean(&now.image)
            )));
        }
        let host = table.get(pid).map(|r| r.host).unwrap_or_default();
        if !libos_proctable::hosts::is_alive(&hosts, &host) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("process {pid} goes on with {reference} when a host resumes it (`libos serve`)");
    Ok(())
}
