//! Spawn cost against the number of live processes: a spawn must cost the same in a tree that
//! already holds 0, 1,000 or 10,000 live processes.
//!
//! Each sample starts a root (the scripted agent) that first spawns `N` children of the
//! waiter agent, which park in `events.wait` (not measured; the bench waits until all are
//! parked), then spawns children of the minimal agent in a loop and times that loop itself (`clock.monotonic` around it, as the
//! agent reports it): the cost of `process.spawn` as a parent process pays it — decision,
//! audit record stored before the start, table row, admission into the tree's and the
//! host's bounds, store and instance — with `N` live siblings in the tree, and `N` more rows
//! in the process table each sample. The tree is killed after each sample.
//!
//! The baseline, in the same run, is the fastest plain-wasmtime way to start the same agent:
//! `instantiate_async` + `run` of the minimal agent on a bare store of the same engine.
//!
//! Both sides run the product's configuration: the host is built with
//! `HostOptions::serving` (the pooling allocator sized and fitted to the kernel's limits as
//! `libos run` does, here for 12,000 processes, above the product's default of 8,000 to hold
//! the largest tree and the spawned children: raise `vm.max_map_count` to 131072 first, or
//! the host is sized down and says so), the raw engine with
//! `engine::build(Allocation::serving(..))`.
//!
//! A libos iteration is [`BATCH`] spawns (criterion reports its time); the summary prints
//! the median per spawn.
//!
//! Run: `cargo bench -p libos-process --bench spawn_scale`.

mod common;

use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use libos_process::{ExitStatus, Kernel};
use libos_proctable::ProcessQuery;

/// Live processes in the tree before the measured spawns.
const LIVE: [u32; 3] = [0, 1_000, 10_000];

/// Spawns per measured iteration: a sample of a tree with 10,000 waiters takes seconds to
/// set up, so criterion takes few samples; each must time enough spawns to be a median of
/// spawns, not of the first one after the setup.
const BATCH: u64 = 200;

/// The host's process capacity for this bench.
const CAPACITY: u32 = 12_000;

/// Starts a root that parks `live` waiters, waits until every one is parked (so their
/// start-up does not compete with what is measured), then lets the root spawn `n` minimal
/// children; returns the time the `n` spawns took as the root measured it.
async fn spawns_with_live(kernel: &Kernel, work: &Path, live: u32, n: u64) -> Duration {
    let input = serde_json::json!({ "stop_on_error": true, "steps": [
        { "op": "repeat", "times": live, "step": { "op": "spawn", "image": "waiter",
          "input": { "topic": "never" }, "caps": ["events.wait:never"] } },
        { "op": "wait_event", "topic": "measure" },
        { "op": "repeat", "times": n, "step": { "op": "spawn", "image": "minimal",
          "input": {}, "caps": [] } },
    ]});
    let root = kernel
        .start(common::start("spawner", &input.to_string(), work))
        .await
        .expect("start");
    let parked = ProcessQuery {
        states: vec!["blocked".into()],
        parent: Some(root),
        ..ProcessQuery::default()
    };
    let root_parked = ProcessQuery {
        states: vec!["blocked".into()],
        image: Some("spawner".into()),
        ..ProcessQuery::default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        kernel.flush().expect("flush");
        let table = kernel.table();
        if table.count(&parked).expect("count") >= u64::from(live)
            && table.count(&root_parked).expect("count") >= 1
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the waiters never all parked ({} live in the host)",
            kernel.live_processes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kernel
        .emit("measure", &serde_json::json!({}))
        .expect("emit");
    let status = kernel.wait(root).await.expect("wait");
    let ExitStatus::Exited(out) = status else {
        panic!("spawner did not exit: {status:?}");
    };
    let out: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    for (step, wanted) in [(0, u64::from(live)), (2, n)] {
        let repeat = &out["results"][step]["ok"];
        assert_eq!(repeat["done"], wanted, "{out}");
    }
    let elapsed = out["results"][2]["ok"]["elapsed_ns"].as_u64().unwrap_or(0);
    // The waiters end with their root's tree; the next sample starts once they have left
    // the host (their room in it is given back as their tasks end).
    kernel.end_tree(root).expect("end tree");
    while kernel.live_processes() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Duration::from_nanos(elapsed)
}

fn main() {
    let rt = common::runtime();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
    common::image(
        state.path(),
        images.path(),
        "minimal",
        libos_guests::AGENT_MINIMAL,
        "",
    );
    common::image(
        state.path(),
        images.path(),
        "waiter",
        libos_guests::AGENT_WAITER,
        "capabilities = [\"events.wait:never\"]\n",
    );
    common::image(
        state.path(),
        images.path(),
        "spawner",
        libos_guests::AGENT_SCRIPT,
        "capabilities = [\"process.spawn:*\", \"events.wait:never\", \"events.wait:measure\"]\n\
         [limits]\nmax_children = 4000000000\nmax_descendants = 4000000000\nwall_clock = \"1h\"\n",
    );
    let (kernel, engine, pre) = common::serving(&rt, state.path(), CAPACITY);
    // Compile every agent once, outside the measurements.
    rt.block_on(spawns_with_live(&kernel, work.path(), 1, 1));

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("spawn_live");
    g.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| common::raw_run(&engine, &pre))
    });
    for live in LIVE {
        g.bench_function(live.to_string(), |b| {
            b.to_async(&rt)
                .iter_custom(|n| spawns_with_live(&kernel, work.path(), live, n * BATCH))
        });
    }
    g.finish();
    kernel.host().flush_audit().expect("flush");
    c.final_summary();

    println!("\nsummary (medians per spawn; a libos iteration is {BATCH} spawns)");
    let per_spawn = BATCH as f64;
    let empty = common::medians("spawn_live", "raw", "0").map(|(_, ours)| ours / per_spawn);
    for live in LIVE {
        if let Some((raw, ours)) = common::medians("spawn_live", "raw", &live.to_string()) {
            let ours = ours / per_spawn;
            let flat = empty.map_or(String::new(), |e| format!("   vs 0 live {:>5.2}", ours / e));
            println!(
                "  {live:>6} live: raw {:>7.1} us   libos {:>7.1} us   ratio {:>5.2}{flat}",
                raw / 1e3,
                ours / 1e3,
                ours / raw
            );
        }
    }
}
