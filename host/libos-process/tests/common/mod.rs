//! Helpers shared by the process runtime tests.

#![allow(dead_code)]

use std::path::Path;

use libos::host::HostOptions;
use libos_image::ImageStore;
use libos_process::{ExitStatus, Kernel, Start};

pub fn kernel(state: &Path) -> anyhow::Result<Kernel> {
    Ok(Kernel::new(HostOptions {
        state_dir: Some(state.to_path_buf()),
        ..HostOptions::default()
    })?)
}

/// Writes an image dir for fixture `component` named `name`, with `caps`, and builds it.
pub fn fixture_image(
    state: &Path,
    dir: &Path,
    name: &str,
    component: &str,
    caps: &[&str],
    limits: &str,
) -> anyhow::Result<()> {
    let image_dir = dir.join(name);
    std::fs::create_dir_all(&image_dir)?;
    std::fs::copy(component, image_dir.join("agent.wasm"))?;
    let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    std::fs::write(
        image_dir.join("image.toml"),
        format!(
            "name = {name:?}\nversion = \"0.1.0\"\nagent = \"agent.wasm\"\ncapabilities = [{}]\n\n[limits]\n{limits}\n",
            caps.join(", ")
        ),
    )?;
    ImageStore::open(state)?.build(&image_dir)?;
    Ok(())
}

/// Starts `image` as a root in `work` with `input`.
pub async fn start(kernel: &Kernel, image: &str, input: &str, work: &Path) -> anyhow::Result<u64> {
    Ok(kernel
        .start(Start {
            image: image.into(),
            input: input.into(),
            capabilities: None,
            workdir: work.to_path_buf(),
            cwd: "/".into(),
            parent: None,
        })
        .await?)
}

/// Runs `image` as a root to its end and returns its output, failing on any other end.
pub async fn run_to_exit(
    kernel: &Kernel,
    image: &str,
    input: &str,
    work: &Path,
) -> anyhow::Result<serde_json::Value> {
    let pid = start(kernel, image, input, work).await?;
    match kernel.wait(pid).await? {
        ExitStatus::Exited(output) => Ok(serde_json::from_str(&output)?),
        status => anyhow::bail!("{image} did not exit: {status:?}"),
    }
}
