//! Helpers shared by the benchmarks of this crate (each bench uses some of them).

#![allow(dead_code)]

use std::path::Path;

use libos_process::Start;
use libos_process::bindings::{Agent, AgentPre};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

/// The runtime every bench drives the host on: two workers, as on the 2-core machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A kernel on `state` in the product's serving configuration (what `libos run` builds:
/// `HostOptions::serving`, the pool sized for `processes` and fitted to the kernel's
/// limits), and a raw engine of the same configuration with a pool of its own, small (its
/// fiber stacks' mappings would otherwise count against the host's processes), with the
/// minimal agent pre-instantiated on it.
pub fn serving(
    rt: &tokio::runtime::Runtime,
    state: &Path,
    processes: u32,
) -> (libos_process::Kernel, Engine, AgentPre<()>) {
    use libos::wasm::engine::{self, Allocation};
    let kernel = rt
        .block_on(async {
            libos_process::Kernel::new(libos::host::HostOptions {
                state_dir: Some(state.to_path_buf()),
                ..libos::host::HostOptions::serving(processes)
            })
        })
        .expect("kernel");
    let engine = engine::build(Allocation::serving(100)).expect("engine");
    let pre = raw_pre(&engine);
    (kernel, engine, pre)
}

/// A root process of `image` with `input`, in `work`, with the image's own capabilities.
pub fn start(image: &str, input: &str, work: &Path) -> Start {
    Start {
        image: image.into(),
        input: input.into(),
        capabilities: None,
        workdir: work.to_path_buf(),
        cwd: "/".into(),
        parent: None,
    }
}

/// The minimal agent compiled and pre-instantiated on a bare linker (every import a trap):
/// the raw-wasmtime baseline of a spawn.
pub fn raw_pre(engine: &Engine) -> AgentPre<()> {
    let component = Component::from_file(engine, libos_guests::AGENT_MINIMAL).expect("compile");
    let mut linker: Linker<()> = Linker::new(engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .expect("stub imports");
    AgentPre::new(linker.instantiate_pre(&component).expect("pre")).expect("agent")
}

/// One raw start of the minimal agent: a bare store, instantiate, `run`.
pub async fn raw_run(engine: &Engine, pre: &AgentPre<()>) {
    let mut store = Store::new(engine, ());
    store.set_fuel(u64::MAX / 2).expect("fuel");
    store.set_epoch_deadline(u64::MAX / 2);
    let agent: Agent = pre
        .instantiate_async(&mut store)
        .await
        .expect("instantiate");
    let out = agent.call_run(&mut store, "{}").await.expect("run");
    assert!(out.is_ok());
}

/// The criterion medians (ns) of `group/base` and `group/ours` from this run's results.
pub fn medians(group: &str, base: &str, ours: &str) -> Option<(f64, f64)> {
    let read = |id: &str| -> Option<f64> {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()?
            .join("criterion")
            .join(group)
            .join(id)
            .join("new/estimates.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    Some((read(base)?, read(ours)?))
}

/// Builds image `name` in the store of `state` from `component` (as `agent.wasm`) with the
/// manifest lines `tail` after name, version and agent (a directory under `dir`).
pub fn image(state: &Path, dir: &Path, name: &str, component: &str, tail: &str) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(component, d.join("agent.wasm")).expect("copy");
    std::fs::write(
        d.join("image.toml"),
        format!("name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\n{tail}"),
    )
    .expect("manifest");
    libos_image::ImageStore::open(state)
        .expect("store")
        .build(&d)
        .expect("build");
}
