//! A `wasm32-wasip2` tool reading a small file with `std::fs`: under the runtime's mediated
//! `wasi:filesystem` (each open decided: capability, Cedar policy, audit, then `openat2`)
//! vs the same component on plain wasmtime-wasi with the directory preopened (no checks).
//!
//! Each invoke reads the file `READS` times (the `wasi_probe` fixture's `ops`), so the fixed
//! cost of an invoke (store, instance, call context) is spread over many reads on both sides.
//! The ratio of the medians is printed at the end (target: at most 1.5).

mod common;

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use libos::bindings::libos::runtime::fs::{DirEntry, Metadata};
use libos::bindings::libos::runtime::types::{Datetime, Error};
use libos::bindings::libos::runtime::{clock, fs, log, shell, types};
use libos::bindings::{Tool, ToolPre};
use libos::host::{HostOptions, ToolHost};
use libos::wasm::engine::{self, Allocation};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Reads per invoke.
const READS: u64 = 200;

/// Store data of the baseline: wasmtime-wasi's own context and nothing else.
struct Plain {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Plain {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

// The probe's `libos:runtime` imports, never called on the read path.
impl types::Host for Plain {}

impl fs::Host for Plain {
    async fn read(&mut self, _: String) -> wasmtime::Result<Result<Vec<u8>, Error>> {
        Ok(Err(Error::NotFound))
    }
    async fn write(&mut self, _: String, _: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        Ok(Err(Error::NotFound))
    }
    async fn list(&mut self, _: String) -> wasmtime::Result<Result<Vec<DirEntry>, Error>> {
        Ok(Err(Error::NotFound))
    }
    async fn delete(&mut self, _: String) -> wasmtime::Result<Result<(), Error>> {
        Ok(Err(Error::NotFound))
    }
    async fn stat(&mut self, _: String) -> wasmtime::Result<Result<Metadata, Error>> {
        Ok(Err(Error::NotFound))
    }
}

impl clock::Host for Plain {
    async fn now(&mut self) -> wasmtime::Result<Result<Datetime, Error>> {
        Ok(Err(Error::NotFound))
    }
    async fn monotonic(&mut self) -> wasmtime::Result<Result<u64, Error>> {
        Ok(Err(Error::NotFound))
    }
}

impl log::Host for Plain {
    async fn log(&mut self, _: log::Level, _: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl shell::Host for Plain {
    async fn run(
        &mut self,
        _: Vec<String>,
        _: Option<u64>,
    ) -> wasmtime::Result<Result<shell::Output, Error>> {
        Ok(Err(Error::NotFound))
    }
}

struct PlainHost {
    engine: Engine,
    workdir: std::path::PathBuf,
    pre: ToolPre<Plain>,
}

impl PlainHost {
    fn new(workdir: &Path) -> PlainHost {
        let engine =
            engine::build(Allocation::serving(engine::DEFAULT_MAX_PROCESSES)).expect("engine");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        Tool::add_to_linker::<Plain, HasSelf<Plain>>(&mut linker, |p| p).expect("libos");
        let component = Component::from_file(&engine, libos_guests::WASI_PROBE).expect("compile");
        let pre = ToolPre::new(linker.instantiate_pre(&component).expect("pre")).expect("tool");
        PlainHost {
            engine,
            workdir: workdir.to_path_buf(),
            pre,
        }
    }

    async fn invoke(&self, input: &str) -> String {
        let mut b = WasiCtxBuilder::new();
        b.preopened_dir(&self.workdir, ".", FsPerms::ReadWrite)
            .expect("preopen");
        let data = Plain {
            ctx: b.build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, data);
        store.set_fuel(u64::MAX / 2).expect("fuel");
        store.set_epoch_deadline(u64::MAX / 2);
        let tool = self
            .pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiate");
        tool.call_invoke(&mut store, input)
            .await
            .expect("invoke")
            .expect("tool ok")
    }
}

fn median(group: &str, id: &str) -> Option<f64> {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()?
        .join("criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let state = tempfile::tempdir().expect("state");
    let work = tempfile::tempdir().expect("work");
    std::fs::write(work.path().join("file.txt"), "x".repeat(100)).expect("fixture");
    let host = ToolHost::new(HostOptions {
        state_dir: Some(state.path().to_path_buf()),
        // The product's serving configuration (what `libos run` builds), default size.
        ..HostOptions::serving(engine::DEFAULT_MAX_PROCESSES)
    })
    .expect("host");
    let options = common::reading_options(work.path());
    let tool = rt
        .block_on(host.load(Path::new(libos_guests::WASI_PROBE)))
        .expect("load wasi_probe");
    let plain = PlainHost::new(work.path());
    let ops: Vec<_> = (0..READS)
        .map(|_| serde_json::json!({"op": "read", "path": "file.txt"}))
        .collect();
    let input = serde_json::json!({ "ops": ops }).to_string();

    // Both sides must read the file, not fail on it.
    let check = |out: &str| {
        let v: serde_json::Value = serde_json::from_str(out).expect("json");
        assert_eq!(v["ops"][0]["ok"], "x".repeat(100), "{out}");
    };
    check(&rt.block_on(plain.invoke(&input)));
    let r = rt.block_on(host.call(&tool, &input, &options));
    check(r.result.as_deref().expect("libos call"));

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut g = c.benchmark_group("wasi_read");
    g.throughput(Throughput::Elements(READS));
    g.bench_function("wasmtime-wasi", |b| {
        b.to_async(&rt).iter(|| plain.invoke(&input))
    });
    g.bench_function("libos", |b| {
        b.to_async(&rt).iter(|| async {
            let r = host.call(&tool, &input, &options).await;
            assert!(r.result.is_ok(), "{:?}", r.result);
        })
    });
    g.finish();
    host.flush_audit().expect("flush");
    c.final_summary();

    if let (Some(base), Some(ours)) = (
        median("wasi_read", "wasmtime-wasi"),
        median("wasi_read", "libos"),
    ) {
        println!(
            "wasi_read: {READS} std::fs reads per invoke: wasmtime-wasi {:.1} µs, libos {:.1} µs, \
             ratio {:.2} (target <= 1.5)",
            base / 1e3,
            ours / 1e3,
            ours / base
        );
    }
}
