//! Resuming a process from its journal after its host died.
//!
//! * `resume/libos`: a host adopts a process whose journal holds 10,002 entries (a script of
//!   10,000 `clock.now` calls between two `clock.monotonic` readings, then a wait for an
//!   event) and runs it to its end: reading the journal, instantiating its agent, answering
//!   every call from the journal, then live: the wait that finds its event (emitted before),
//!   the end recorded. The host that ran it first is stopped before each run (not timed). The
//!   adopting host is built as `libos serve` builds it (`HostOptions::serving`) and has 1,000
//!   other processes parked in it throughout.
//! * `resume/raw`: the fastest plain-wasmtime way to do the same work: the same agent on a
//!   bare linker (same engine configuration) whose `clock.now` and `clock.monotonic` answer
//!   from a vector of the recorded results (decoded as the journal stores them), instantiated
//!   and run.
//!
//! * `resume/libos-snapshot`: the same, but the process took a snapshot (`process.snapshot`)
//!   after its 10,000 calls: its journal was compacted to the snapshot, and the resume
//!   restores it (`restorable.restore`) instead of replaying the calls.
//!
//! Replay speed is entries divided by the time of `resume/libos`.
//!
//! Run: `cargo bench -p libos-process --bench resume`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use libos::bindings::RuntimeError;
use libos::bindings::libos::runtime::types::Datetime;
use libos_process::bindings::{Agent, AgentPre};
use libos_process::{ExitStatus, Kernel};
use serde_json::json;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

const CALLS: u64 = 10_000;
const PARKED: u32 = 1_000;

fn steps(topic: &str, snapshot: bool) -> String {
    let mut steps = vec![json!({ "op": "repeat", "times": CALLS, "step": { "op": "now" } })];
    if snapshot {
        steps.push(json!({ "op": "snapshot" }));
    }
    steps.push(json!({ "op": "wait_event", "topic": topic }));
    json!({ "steps": steps }).to_string()
}

/// Runs the script on a host of its own until it waits for `topic`, then stops that host
/// (its runtime dropped where its tasks are, its lease released): the process is an orphan
/// with its journal. Returns its pid.
fn orphan(state: &Path, work: &Path, topic: &str, snapshot: bool) -> u64 {
    let rt = common::runtime();
    let kernel = rt
        .block_on(async {
            Kernel::new(libos::host::HostOptions {
                state_dir: Some(state.to_path_buf()),
                ..libos::host::HostOptions::default()
            })
        })
        .expect("first host");
    let pid = rt
        .block_on(kernel.start(common::start("replayer", &steps(topic, snapshot), work)))
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        kernel.flush().expect("flush");
        let state = kernel.table().get(pid).expect("row").state;
        if state.to_string().starts_with("blocked(event") {
            break;
        }
        assert!(Instant::now() < deadline, "never parked: {state}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let id = kernel.host_id().to_owned();
    drop(rt);
    drop(kernel);
    let hosts = state.join("hosts");
    while libos_proctable::hosts::is_alive(&hosts, &id) {
        std::thread::sleep(Duration::from_millis(5));
    }
    pid
}

/// The agent on a bare linker whose clock answers from the store's recorded results.
fn raw_pre(engine: &Engine) -> AgentPre<Recorded> {
    let component = Component::from_file(engine, libos_guests::AGENT_SCRIPT).expect("compile");
    let mut linker: Linker<Recorded> = Linker::new(engine);
    let mut clock = linker
        .instance("libos:runtime/clock@0.1.0")
        .expect("clock instance");
    clock
        .func_wrap("now", |mut cx, (): ()| {
            let data = cx.data_mut();
            let bytes = &data.results[data.next % data.results.len()];
            data.next += 1;
            let value: Result<Datetime, RuntimeError> =
                postcard::from_bytes(bytes).map_err(wasmtime::Error::msg)?;
            Ok((value,))
        })
        .expect("now");
    clock
        .func_wrap("monotonic", |_, (): ()| Ok((Ok::<u64, RuntimeError>(7),)))
        .expect("monotonic");
    linker
        .define_unknown_imports_as_traps(&component)
        .expect("stub imports");
    AgentPre::new(linker.instantiate_pre(&component).expect("pre")).expect("agent")
}

/// What the raw baseline answers from.
struct Recorded {
    results: Arc<Vec<Vec<u8>>>,
    next: usize,
}

async fn raw_run(engine: &Engine, pre: &AgentPre<Recorded>, results: &Arc<Vec<Vec<u8>>>) {
    let mut store = Store::new(
        engine,
        Recorded {
            results: Arc::clone(results),
            next: 0,
        },
    );
    store.set_fuel(u64::MAX / 2).expect("fuel");
    store.set_epoch_deadline(u64::MAX / 2);
    let agent: Agent = pre
        .instantiate_async(&mut store)
        .await
        .expect("instantiate");
    let input = json!({ "steps": [{ "op": "repeat", "times": CALLS, "step": { "op": "now" } }] })
        .to_string();
    let out = agent.call_run(&mut store, &input).await.expect("run");
    assert!(out.is_ok(), "{out:?}");
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .configure_from_args();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
    common::image(
        state.path(),
        images.path(),
        "replayer",
        libos_guests::AGENT_SCRIPT,
        "capabilities = [\"events.*\"]\n\n[limits]\nwall_clock = \"10m\"\n",
    );
    common::image(
        state.path(),
        images.path(),
        "parked",
        libos_guests::AGENT_SCRIPT,
        "capabilities = [\"events.*\"]\n\n[limits]\nwall_clock = \"1h\"\n",
    );
    let rt = common::runtime();
    let (host, engine, _) = common::serving(&rt, state.path(), PARKED + 16);
    rt.block_on(async {
        for _ in 0..PARKED {
            host.start(common::start(
                "parked",
                &json!({ "steps": [{ "op": "wait_event", "topic": "never" }] }).to_string(),
                work.path(),
            ))
            .await
            .expect("parked");
        }
    });

    // Disk growth per journaled call: the database's pages before and after a run of
    // CALLS + 2 calls (the journal of a live process; removed once it ends).
    let pages = || -> i64 {
        let db = rusqlite::Connection::open(state.path().join("libos.db")).expect("db");
        let count: i64 = db
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        let size: i64 = db
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        count * size
    };
    let before = pages();
    let pid = orphan(state.path(), work.path(), "go-0", false);
    let grown = pages() - before;
    let stored: i64 = rusqlite::Connection::open(state.path().join("libos.db"))
        .expect("db")
        .query_row(
            "SELECT SUM(LENGTH(interface) + LENGTH(function) + LENGTH(args_digest) + \
             LENGTH(intent) + COALESCE(LENGTH(result), 0) + LENGTH(state)) FROM journal \
             WHERE pid = ?1",
            [pid as i64],
            |r| r.get(0),
        )
        .expect("sizes");
    host.emit("go-0", &json!(0)).expect("emit");
    rt.block_on(async {
        host.adopt_orphans().await.expect("adopt");
        host.wait(pid).await.expect("wait");
    });
    let entries = (CALLS + 2) as f64;
    let growth = format!(
        "disk per journaled call: {:.0} bytes of database pages ({:.0} bytes of column data)",
        grown as f64 / entries,
        stored as f64 / entries
    );

    let mut round = 0u64;
    let mut g = c.benchmark_group("resume");
    for (name, snapshot) in [("libos", false), ("libos-snapshot", true)] {
        g.bench_function(name, |b| {
            b.iter_custom(|n| {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    round += 1;
                    let topic = format!("go-{round}");
                    let pid = orphan(state.path(), work.path(), &topic, snapshot);
                    host.emit(&topic, &json!(round)).expect("emit");
                    let started = Instant::now();
                    rt.block_on(async {
                        let adopted = host.adopt_orphans().await.expect("adopt");
                        assert_eq!(adopted.resumed, vec![pid], "{adopted:?}");
                        match host.wait(pid).await.expect("wait") {
                            ExitStatus::Exited(_) => {}
                            other => panic!("resumed process did not exit: {other:?}"),
                        }
                    });
                    total += started.elapsed();
                }
                total
            });
        });
    }
    let results: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..CALLS)
            .map(|i| {
                postcard::to_allocvec(&Ok::<Datetime, RuntimeError>(Datetime {
                    seconds: 1_900_000_000 + i,
                    nanoseconds: 0,
                }))
                .expect("encode")
            })
            .collect(),
    );
    let pre = raw_pre(&engine);
    g.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| raw_run(&engine, &pre, &results));
    });
    g.finish();
    c.final_summary();

    if let Some((raw, ours)) = common::medians("resume", "raw", "libos") {
        let entries = (CALLS + 2) as f64;
        println!(
            "resume of {} entries: {:.1} ms (replay {:.0} entries/s); raw wasmtime answering \
             from a vector {:.1} ms; ratio {:.1}",
            CALLS + 2,
            ours / 1e6,
            entries / (ours / 1e9),
            raw / 1e6,
            ours / raw
        );
    }
    if let Some((raw, ours)) = common::medians("resume", "raw", "libos-snapshot") {
        println!(
            "resume of the same process after a snapshot (journal compacted to it): {:.1} ms; \
             ratio to raw {:.1}",
            ours / 1e6,
            ours / raw
        );
    }
    println!("{growth}");
}
