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
    exit_of(kernel, pid).await
}

/// Waits for `pid` to end and returns its output, failing on any other end.
pub async fn exit_of(kernel: &Kernel, pid: u64) -> anyhow::Result<serde_json::Value> {
    match kernel.wait(pid).await? {
        ExitStatus::Exited(output) => Ok(serde_json::from_str(&output)?),
        status => anyhow::bail!("process {pid} did not exit: {status:?}"),
    }
}

/// A fresh state directory (images are built into it from copies in `images`) and a working
/// directory.
pub struct World {
    pub state: tempfile::TempDir,
    pub images: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl World {
    pub fn new() -> anyhow::Result<World> {
        Ok(World {
            state: tempfile::tempdir()?,
            images: tempfile::tempdir()?,
            work: tempfile::tempdir()?,
        })
    }

    /// Builds image `name` from fixture `component` (see [`fixture_image`]).
    pub fn image(
        &self,
        name: &str,
        component: &str,
        caps: &[&str],
        limits: &str,
    ) -> anyhow::Result<()> {
        fixture_image(
            self.state.path(),
            self.images.path(),
            name,
            component,
            caps,
            limits,
        )
    }

    pub fn work(&self) -> &Path {
        self.work.path()
    }
}

/// Builds image `name` (the script agent) with `caps` and, when given, the Cedar `policy`.
pub fn script_image(
    world: &World,
    name: &str,
    caps: &[&str],
    policy: Option<&str>,
) -> anyhow::Result<()> {
    let dir = world.images.path().join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(libos_guests::AGENT_SCRIPT, dir.join("agent.wasm"))?;
    let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    let mut manifest = format!(
        "name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\ncapabilities = [{}]\n",
        caps.join(", ")
    );
    if let Some(policy) = policy {
        std::fs::write(dir.join("policy.cedar"), policy)?;
        manifest.push_str("policy = \"policy.cedar\"\n");
    }
    manifest.push_str("\n[limits]\nwall_clock = \"60s\"\n");
    std::fs::write(dir.join("image.toml"), manifest)?;
    ImageStore::open(world.state.path())?.build(&dir)?;
    Ok(())
}

/// Records of `action` in the audit log of `state`: (verdict, resource).
pub fn records_of(state: &Path, action: &str) -> anyhow::Result<Vec<(String, String)>> {
    let all = libos_audit::read_records(&state.join("libos.db"), None)?;
    Ok(all
        .iter()
        .filter(|r| &*r.record.decided.action == action)
        .map(|r| {
            (
                format!("{:?}", r.record.decided.verdict).to_lowercase(),
                r.record.decided.resource.to_string(),
            )
        })
        .collect())
}

/// A [`World`] with one image built and a kernel on its state directory.
pub struct Fixture {
    pub world: World,
    pub kernel: Kernel,
}

impl std::ops::Deref for Fixture {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

/// Builds image `name` from fixture `component` with `caps` and manifest `limits` text in a
/// fresh [`World`] and starts a kernel on it.
pub fn fixture(
    name: &str,
    component: &str,
    caps: &[&str],
    limits: &str,
) -> anyhow::Result<Fixture> {
    let world = World::new()?;
    world.image(name, component, caps, limits)?;
    Ok(Fixture {
        kernel: kernel(world.state.path())?,
        world,
    })
}

/// The `results` array of an `agent_script` output.
pub fn results(output: &serde_json::Value) -> Vec<serde_json::Value> {
    output["results"].as_array().cloned().unwrap_or_default()
}

/// Waits (up to 20 s) until a request of `pid` is pending in `queue` and returns its id.
pub async fn pending_of(queue: &libos_human::HumanQueue, pid: u64) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(r) = queue.pending()?.into_iter().find(|r| r.pid == pid) {
            return Ok(r.id);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no request from {pid}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Records, as `libos approve --scope always` / `deny --never` does, that a person made
/// `rule` (the host obeys a rule only with that record).
pub fn vouch(state: &Path, rule: &libos_human::Rule) -> anyhow::Result<()> {
    vouch_digest(state, &rule.digest())
}

/// Records, as `libos approve` does, that a person approved the request `grant` was minted
/// for (the host uses a grant only with that record). Returns the grant.
pub fn vouch_grant(
    state: &Path,
    decided: (libos_human::Request, libos_human::Grant),
) -> anyhow::Result<libos_human::Grant> {
    vouch_digest(state, &decided.1.digest())?;
    Ok(decided.1)
}

fn vouch_digest(state: &Path, digest: &str) -> anyhow::Result<()> {
    use libos_audit::AuditSink as _;
    let log = libos_audit::AuditLog::open(&state.join("libos.db"))?;
    let mut record = libos_audit::AuditRecord::decided_now(
        ("human:alice", "human.approve", "answer"),
        libos_audit::Verdict::Allow,
        "a person's answer",
        None,
    );
    record.args_digest = Some(digest.to_owned());
    log.append(record);
    log.flush()?;
    Ok(())
}
