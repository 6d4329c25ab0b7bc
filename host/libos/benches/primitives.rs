//! Primitive and invoke costs, each next to its raw-wasmtime baseline measured in the same run.
//!
//! * `stat`: one `fs.stat` host call — raw (a host function doing only the cap-std stat) vs
//!   libos (path normalization, capability check, Cedar policy, audit append, then the stat).
//! * `clock`: one `clock.monotonic` host call — raw (reads the same clock provider) vs libos
//!   (check + policy + audit, then the same reading).
//! * `invoke`: a whole `word_count` invoke in a fresh instance from a pre-instantiated
//!   component — raw store vs `ToolHost::call` (authority, limits, WASI context, audit).
//!
//! Per-call numbers come from guests looping `N` calls inside one invoke, divided by `N`.
//! Each invoke also pays fixed costs (a store, an instance, the call's context; measured by
//! `invoke`); `N` = 10,000 keeps their share of a per-call number to a few nanoseconds on
//! both sides. With a loop that long the audit writer also starts writing during the loop
//! (it takes its queue every 4,096 records), as it would for a real guest. Run with
//! `./dev.sh bench`; the ratios are printed at the end and recorded in BENCHMARKS.md.
//!
//! The audit log is written by its own thread, off the hot path. `libos` times the call only
//! and waits for the writer between iterations (untimed), so each iteration starts with an
//! idle writer; `libos+flush` also times that wait, i.e. the sustained cost when the writer is
//! the bottleneck. `audit/append+flush` is the writer's throughput on its own.
//!
//! After the criterion groups, "paired rounds" time single invokes of the same loop, raw and
//! libos back to back (alternating which goes first), and report the median of the per-round
//! ratios: a drift of the machine's speed between groups cannot skew those. Each round is one
//! cold invoke including instantiation, so these ratios are not the per-call ratios above.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use libos::bindings::libos::runtime::fs::{DirEntry, Metadata};
use libos::bindings::libos::runtime::types::{Datetime, Error};
use libos::bindings::libos::runtime::{clock, fs, log, types};
use libos::bindings::{Tool, ToolPre};
use libos::host::{HostOptions, ToolHost};
use libos::providers::clock::{Clock, SystemClock};
use libos::wasm::engine::{self, Allocation};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

/// Calls per invoke in the per-call groups (see the module docs).
const N: u64 = 10_000;

/// Rounds of the paired raw/libos measurement.
const PAIRED_ROUNDS: usize = 51;

/// Host state of the raw baseline: the same WIT functions doing the same work (the stat,
/// the clock reading through the same provider) with no checks at all.
struct Raw {
    dir: cap_std::fs::Dir,
    clock: Arc<dyn Clock>,
}

impl types::Host for Raw {}

impl fs::Host for Raw {
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
    async fn stat(&mut self, path: String) -> wasmtime::Result<Result<Metadata, Error>> {
        Ok(match self.dir.symlink_metadata(&path) {
            Ok(m) => Ok(Metadata {
                kind: fs::EntryKind::File,
                size: m.len(),
                modified: None,
            }),
            Err(_) => Err(Error::NotFound),
        })
    }
}

impl clock::Host for Raw {
    async fn now(&mut self) -> wasmtime::Result<Result<Datetime, Error>> {
        Ok(Ok(Datetime {
            seconds: 0,
            nanoseconds: 0,
        }))
    }
    async fn monotonic(&mut self) -> wasmtime::Result<Result<u64, Error>> {
        Ok(Ok(self.clock.monotonic()))
    }
}

impl log::Host for Raw {
    async fn log(&mut self, _: log::Level, _: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl libos::bindings::libos::runtime::shell::Host for Raw {
    async fn run(
        &mut self,
        _: Vec<String>,
        _: Option<u64>,
    ) -> wasmtime::Result<Result<libos::bindings::libos::runtime::shell::Output, Error>> {
        Ok(Err(Error::NotFound))
    }
}

struct RawHost {
    engine: Engine,
    workdir: std::path::PathBuf,
    clock: Arc<dyn Clock>,
}

impl RawHost {
    fn pre(&self, path: &str) -> ToolPre<Raw> {
        let mut linker = Linker::new(&self.engine);
        Tool::add_to_linker::<Raw, HasSelf<Raw>>(&mut linker, |r| r).expect("link");
        let component = Component::from_file(&self.engine, path).expect("compile");
        ToolPre::new(linker.instantiate_pre(&component).expect("pre")).expect("tool")
    }

    async fn invoke(&self, pre: &ToolPre<Raw>, input: &str) -> String {
        let dir = cap_std::fs::Dir::open_ambient_dir(&self.workdir, cap_std::ambient_authority())
            .expect("dir");
        let raw = Raw {
            dir,
            clock: Arc::clone(&self.clock),
        };
        let mut store = Store::new(&self.engine, raw);
        store.set_fuel(u64::MAX / 2).expect("fuel");
        store.set_epoch_deadline(u64::MAX / 2);
        let tool = pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiate");
        tool.call_invoke(&mut store, input)
            .await
            .expect("invoke")
            .expect("tool ok")
    }
}

fn ratio(group: &str, base: &str, ours: &str) -> Option<(f64, f64, f64)> {
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
    let b = read(base)?;
    let o = read(ours)?;
    Some((b, o, o / b))
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
    let raw = RawHost {
        engine: engine::build(Allocation::serving(engine::DEFAULT_MAX_PROCESSES)).expect("engine"),
        workdir: work.path().to_path_buf(),
        clock: Arc::new(SystemClock::default()),
    };
    let options = common::reading_options(work.path());
    let loop_tool = rt
        .block_on(host.load(Path::new(libos_guests::BENCH_LOOP)))
        .expect("load bench_loop");
    let wc_tool = rt
        .block_on(host.load(Path::new(libos_guests::WORD_COUNT)))
        .expect("load word_count");
    let raw_loop = raw.pre(libos_guests::BENCH_LOOP);
    let raw_wc = raw.pre(libos_guests::WORD_COUNT);

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    for op in ["stat", "clock"] {
        let input = format!(r#"{{"op":"{op}","path":"file.txt","n":{N}}}"#);
        let mut g = c.benchmark_group(op);
        g.throughput(Throughput::Elements(N));
        g.bench_function(BenchmarkId::new("raw", N), |b| {
            b.to_async(&rt).iter(|| raw.invoke(&raw_loop, &input))
        });
        g.bench_function(BenchmarkId::new("libos", N), |b| {
            let (host, loop_tool, input, options) = (&host, &loop_tool, &input, &options);
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let r = host.call(loop_tool, input, options).await;
                    timed += start.elapsed();
                    assert!(r.result.is_ok(), "{:?}", r.result);
                    host.flush_audit().expect("flush");
                }
                timed
            })
        });
        g.bench_function(BenchmarkId::new("libos+flush", N), |b| {
            b.to_async(&rt).iter(|| async {
                let r = host.call(&loop_tool, &input, &options).await;
                assert!(r.result.is_ok(), "{:?}", r.result);
                host.flush_audit().expect("flush");
            })
        });
        g.finish();
    }

    {
        let log = libos_audit::AuditLog::open(&state.path().join("writer-bench.db")).expect("log");
        let record = libos_audit::AuditRecord {
            time_ns: 1,
            decided: std::sync::Arc::new(libos_audit::Decided {
                subject: "tool:bench_loop".into(),
                action: "clock.read".into(),
                resource: "monotonic".into(),
                verdict: libos_audit::Verdict::Allow,
                reason: "granted by capability clock.read:**; permitted by policy `reads`".into(),
                policy_ids: vec!["reads".to_owned()].into(),
            }),
            request_id: None,
            args_digest: None,
            detail: None,
        };
        let mut g = c.benchmark_group("audit");
        g.throughput(Throughput::Elements(N));
        g.bench_function(BenchmarkId::new("append+flush", N), |b| {
            b.iter(|| {
                for _ in 0..N {
                    libos_audit::AuditSink::append(&log, record.clone());
                }
                log.flush().expect("flush");
            })
        });
        g.finish();
    }

    let input = r#"{"text":"the quick brown fox jumps over the lazy dog"}"#;
    let mut g = c.benchmark_group("invoke");
    g.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| raw.invoke(&raw_wc, input))
    });
    g.bench_function("libos", |b| {
        b.to_async(&rt).iter(|| async {
            let r = host.call(&wc_tool, input, &options).await;
            assert!(r.result.is_ok(), "{:?}", r.result);
        })
    });
    g.finish();
    host.flush_audit().expect("flush");
    c.final_summary();

    // Paired rounds: raw and libos back to back, so a drift of the machine's speed between
    // criterion groups (seconds apart) does not skew the ratio.
    let mut paired = Vec::new();
    for op in ["stat", "clock"] {
        let input = format!(r#"{{"op":"{op}","path":"file.txt","n":{N}}}"#);
        let mut ratios = Vec::with_capacity(PAIRED_ROUNDS);
        for round in 0..PAIRED_ROUNDS {
            let (raw_t, ours_t) = rt.block_on(async {
                let time_raw = || async {
                    let start = Instant::now();
                    raw.invoke(&raw_loop, &input).await;
                    start.elapsed()
                };
                let time_ours = || async {
                    let start = Instant::now();
                    let r = host.call(&loop_tool, &input, &options).await;
                    let elapsed = start.elapsed();
                    assert!(r.result.is_ok(), "{:?}", r.result);
                    host.flush_audit().expect("flush");
                    elapsed
                };
                // Alternate which side goes first, so neither always runs on a cache the
                // other (or the audit writer) just disturbed.
                if round % 2 == 0 {
                    let r = time_raw().await;
                    (r, time_ours().await)
                } else {
                    let o = time_ours().await;
                    (time_raw().await, o)
                }
            });
            ratios.push(ours_t.as_secs_f64() / raw_t.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        paired.push((
            op,
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1],
        ));
    }

    println!("\nsummary (medians; per host call for stat/clock, per invoke for invoke)");
    let (raw_n, libos_n, flush_n) = (
        format!("raw/{N}"),
        format!("libos/{N}"),
        format!("libos+flush/{N}"),
    );
    for (group, base, ours) in [
        ("stat", &*raw_n, &*libos_n),
        ("stat", &raw_n, &flush_n),
        ("clock", &raw_n, &libos_n),
        ("clock", &raw_n, &flush_n),
        ("invoke", "raw", "libos"),
    ] {
        match ratio(group, base, ours) {
            Some((b, o, r)) => {
                let per = if group == "invoke" { 1.0 } else { N as f64 };
                let label = ours.split('/').next().unwrap_or(ours);
                println!(
                    "  {group:<6} raw {:>9.1} ns   {label:<11} {:>9.1} ns   ratio {r:.2}",
                    b / per,
                    o / per
                );
            }
            None => println!("  {group:<6} (no estimates found)"),
        }
    }
    for (op, median, low, high) in paired {
        println!(
            "  {op:<6} paired rounds: ratio {median:.2} (median of {PAIRED_ROUNDS}; range {low:.2}-{high:.2})"
        );
    }
    if let Some((_, o, _)) = ratio(
        "audit",
        &format!("append+flush/{N}"),
        &format!("append+flush/{N}"),
    ) {
        let per = o / N as f64;
        println!(
            "  audit  writer: {per:.1} ns per record ({:.0} records/s sustained)",
            1e9 / per
        );
    }
}
