//! Helpers shared by the black-box tests: a fresh state directory and working directory per
//! test, the `libos` binary, and an in-process host.

#![allow(dead_code)]

pub mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use libos::host::{CallOptions, HostOptions, LoadedTool, ToolHost};
use libos::{CallReport, Limits};
use libos_authority::{Capability, Policy};
use tempfile::TempDir;

/// A fresh state directory and working directory.
pub struct Env {
    pub state: TempDir,
    pub work: TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            state: tempfile::tempdir().expect("temp state dir"),
            work: tempfile::tempdir().expect("temp work dir"),
        }
    }

    /// This environment's state directory.
    pub fn state_path(&self) -> &Path {
        self.state.path()
    }

    /// The `libos` binary with `--state-dir` pointing at this environment.
    pub fn libos(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_libos"));
        cmd.arg("--state-dir").arg(self.state.path());
        cmd.env_remove("LIBOS_STATE_DIR");
        cmd
    }

    /// `libos run IMAGE --detach [--input INPUT]` in the working directory: must succeed;
    /// returns the pid it prints.
    pub fn run_detached(&self, image: &str, input: Option<&str>) -> u64 {
        let mut cmd = self.libos();
        cmd.args(["run", image, "--detach"]);
        if let Some(input) = input {
            cmd.args(["--input", input]);
        }
        let out = cmd
            .arg("--workdir")
            .arg(self.work.path())
            .output()
            .expect("run --detach");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("run --detach prints the pid")
    }

    /// `libos ARGS…`: must succeed; its output, one JSON value per line.
    pub fn json_lines(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let out = self.libos().args(args).output().expect("libos");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON value per line"))
            .collect()
    }

    /// `libos audit show --json`: must succeed; the records, oldest first.
    pub fn audit_json(&self) -> Vec<serde_json::Value> {
        let out = self
            .libos()
            .args(["audit", "show", "--json"])
            .output()
            .expect("audit show");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("audit show --json is JSON")
    }

    /// `libos ps --json`: must succeed; parsed.
    pub fn ps_json(&self) -> Vec<serde_json::Value> {
        let out = self.libos().args(["ps", "--json"]).output().expect("ps");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("ps --json is JSON")
    }

    /// Kills the background host running `pid` with `kill -9` (no chance to record
    /// anything), waits until it is gone, and returns its host id (`libos@OSPID.…`).
    pub fn kill_host_of(&self, pid: u64) -> String {
        let host = self
            .ps_json()
            .iter()
            .find(|p| p["pid"] == pid)
            .and_then(|p| p["host"].as_str())
            .expect("the process names its host")
            .to_owned();
        let os_pid = host
            .strip_prefix("libos@")
            .and_then(|p| p.split('.').next())
            .expect("host id")
            .to_owned();
        let killed = std::process::Command::new("kill")
            .args(["-9", &os_pid])
            .status()
            .expect("kill -9");
        assert!(killed.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{os_pid}")).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "host {os_pid} did not die"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        host
    }

    pub fn work_path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    pub fn write(&self, rel: &str, contents: &str) {
        let p = self.work_path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, contents).expect("write fixture file");
    }

    /// Writes an image directory in the state directory for the agent `component` named
    /// `name` with `limits` (text of the `[limits]` table) and returns it, unbuilt.
    pub fn agent_image(&self, name: &str, component: &str, limits: &str) -> PathBuf {
        let dir = self.state.path().join(format!("{name}-image"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(component, dir.join("agent.wasm")).expect("copy");
        std::fs::write(
            dir.join("image.toml"),
            format!(
                "name = {name:?}\nversion = \"0.1.0\"\nagent = \"agent.wasm\"\n\n[limits]\n{limits}\n"
            ),
        )
        .expect("manifest");
        dir
    }

    /// [`Env::agent_image`] with `capabilities`, built with `libos image build` (which must
    /// succeed).
    pub fn build_image(&self, name: &str, component: &str, capabilities: &[&str], limits: &str) {
        let dir = self.agent_image(name, component, limits);
        let caps: Vec<String> = capabilities.iter().map(|c| format!("{c:?}")).collect();
        let manifest = std::fs::read_to_string(dir.join("image.toml")).expect("manifest");
        let manifest = manifest.replacen(
            "agent = \"agent.wasm\"\n",
            &format!(
                "agent = \"agent.wasm\"\ncapabilities = [{}]\n",
                caps.join(", ")
            ),
            1,
        );
        std::fs::write(dir.join("image.toml"), manifest).expect("manifest");
        self.image_build(&dir);
    }

    /// `libos image build DIR`, which must succeed.
    pub fn image_build(&self, dir: &Path) {
        self.libos()
            .args(["image", "build"])
            .arg(dir)
            .assert()
            .success();
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.work_path(rel)).ok()
    }

    /// An in-process host on this environment's state directory.
    pub fn host(&self) -> ToolHost {
        ToolHost::new(HostOptions {
            state_dir: Some(self.state.path().to_path_buf()),
            ..HostOptions::default()
        })
        .expect("host")
    }

    /// Call options holding `caps` under `policy_src` (or no policy file), in the work dir.
    pub fn options(&self, caps: &[&str], policy_src: Option<&str>) -> CallOptions {
        let policy = match policy_src {
            Some(src) => libos::policy::parse(src, "test.cedar").expect("policy parses"),
            None => Policy::permit_all(),
        };
        CallOptions {
            on_behalf_of: None,
            cwd: String::new(),
            capabilities: caps.iter().map(|c| cap(c)).collect(),
            policy: Arc::new(policy),
            workdir: Some(self.work.path().to_path_buf()),
            limits: Limits::default(),
            seed: libos::host::Seed::Fixed(7),
            meter: None,
            human: None,
        }
    }

    /// Audit records as (verdict, action, resource), oldest first.
    pub fn audit(&self, host: &ToolHost) -> Vec<(String, String, String)> {
        host.flush_audit().expect("flush");
        libos_audit::read_records(&self.state.path().join("libos.db"), None)
            .expect("read audit")
            .into_iter()
            .map(|r| {
                (
                    r.record.decided.verdict.as_str().to_string(),
                    r.record.decided.action.to_string(),
                    r.record.decided.resource.to_string(),
                )
            })
            .collect()
    }
}

pub fn cap(s: &str) -> Capability {
    s.parse().expect("capability parses")
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub async fn load(host: &ToolHost, path: &str) -> LoadedTool {
    host.load(Path::new(path)).await.expect("component loads")
}

/// Calls `tool` and returns the report.
pub async fn call(
    host: &ToolHost,
    tool: &LoadedTool,
    input: &str,
    options: &CallOptions,
) -> CallReport {
    host.call(tool, input, options).await
}

/// The parsed JSON result of a successful call.
pub fn ok_json(report: &CallReport) -> serde_json::Value {
    match &report.result {
        Ok(s) => serde_json::from_str(s).expect("result is JSON"),
        Err(e) => panic!("call failed: {e}"),
    }
}

/// Whether a live process's command line holds `marker`.
pub fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
}

/// Waits up to `secs` seconds until `running(marker)` is `wanted`; whether it became so.
pub fn wait_running(marker: &str, wanted: bool, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if running(marker) == wanted {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A component (written to `dir/name`) that imports one empty instance under each of
/// `names` and does nothing else: for import validation with names no toolchain emits.
pub fn component_importing(dir: &Path, name: &str, names: &[&str]) -> PathBuf {
    use wasm_encoder::{
        Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, InstanceType,
    };
    let mut component = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    component.section(&types);
    let mut imports = ComponentImportSection::new();
    for n in names {
        imports.import(*n, ComponentTypeRef::Instance(0));
    }
    component.section(&imports);
    let path = dir.join(name);
    std::fs::write(&path, component.finish()).expect("write component");
    path
}
