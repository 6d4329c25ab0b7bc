//! Process costs, each next to its raw-wasmtime baseline measured in the same run.
//!
//! * `spawn`: a raw `instantiate_async` + `run` of the minimal agent on a bare store, vs
//!   `Kernel::start` + `wait` of an image running it (image lookup, process-table rows and
//!   transitions, authority, store, instance). Compilation is excluded on both sides.
//!   `spawn/libos` drives each start + wait from outside the runtime (criterion's `block_on`);
//!   `spawn/libos-in-task` runs the loop in one tokio task, as a parent process spawning and
//!   waiting for children does.
//! * `tool_call`: one `word_count` call made by the host itself (`ToolHost::call`, the
//!   foundation's tool call: fresh instance, capability and policy check, audit) vs the same
//!   call made from inside a process through `tools.call` (timed by the agent around a loop
//!   of calls, so spawning is excluded).
//! * `park`: 10,000 processes of the waiter agent parked in `events.wait`: memory per parked
//!   process, time to start and park them all, time to wake them all with one event and see
//!   every one exit. Measured once per run (not a criterion group). Memory is the growth of
//!   the proportional set size (PSS: each resident page counted once, shared pages split
//!   between their mappers) divided by the number of processes; the growth of RSS is printed
//!   too. RSS counts a page once per mapping: every instance maps its module's data image
//!   copy-on-write from one shared memfd, so RSS counts those shared, unwritten pages
//!   10,000 times.
//!
//! Run: `cargo bench -p libos-process --bench processes` (`LIBOS_BENCH_NO_PARK=1` skips
//! `park`).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use libos::Limits;
use libos::host::CallOptions;
use libos_authority::Policy;
use libos_image::ImageStore;
use libos_process::Kernel;
use libos_proctable::{ProcessFilter, State};

const PARKED: u32 = 10_000;

fn image(state: &Path, dir: &Path, name: &str, component: &str, caps: &[&str]) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(component, d.join("agent.wasm")).expect("copy");
    let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    std::fs::write(
        d.join("image.toml"),
        format!(
            "name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\ncapabilities = [{}]\n",
            caps.join(", ")
        ),
    )
    .expect("manifest");
    ImageStore::open(state)
        .expect("store")
        .build(&d)
        .expect("build");
}

/// The image `caller`: the scripted agent with the `word_count` tool.
fn tool_image(state: &Path, dir: &Path) {
    let d = dir.join("caller");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_SCRIPT, d.join("agent.wasm")).expect("copy");
    std::fs::copy(libos_guests::WORD_COUNT, d.join("word_count.wasm")).expect("copy");
    std::fs::write(
        d.join("image.toml"),
        "name = \"caller\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\n\
         [tools]\nword_count = \"word_count.wasm\"\n",
    )
    .expect("manifest");
    ImageStore::open(state)
        .expect("store")
        .build(&d)
        .expect("build");
}

/// The time `n` `word_count` calls took inside a `caller` process, as the agent measured it.
async fn calls_in_process(kernel: &Kernel, work: &Path, n: u64) -> Duration {
    let input = serde_json::json!({ "steps": [{ "op": "repeat", "times": n,
        "step": { "op": "tool", "name": "word_count", "input": { "text": WORDS } } }] });
    let pid = kernel
        .start(common::start("caller", &input.to_string(), work))
        .await
        .expect("start");
    let status = kernel.wait(pid).await.expect("wait");
    let libos_process::ExitStatus::Exited(out) = status else {
        panic!("caller did not exit: {status:?}");
    };
    let out: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let repeat = &out["results"][0]["ok"];
    assert_eq!(repeat["done"], n, "{out}");
    Duration::from_nanos(repeat["elapsed_ns"].as_u64().unwrap_or(0))
}

const WORDS: &str = "the quick brown fox jumps over the lazy dog";

/// Resident set size of this process, in bytes.
/// The proportional set size of this process, in bytes (`/proc/self/smaps_rollup`).
fn pss() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let rt = common::runtime();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
    image(
        state.path(),
        images.path(),
        "minimal",
        libos_guests::AGENT_MINIMAL,
        &[],
    );
    image(
        state.path(),
        images.path(),
        "waiter",
        libos_guests::AGENT_WAITER,
        &["events.wait:park"],
    );
    tool_image(state.path(), images.path());
    // The product's serving configuration (what `libos run` builds), sized to hold the
    // parked waiters and the processes of the other groups.
    let capacity = PARKED + 100;
    let (kernel, engine, pre) = common::serving(&rt, state.path(), capacity);
    // Compile the minimal agent once, outside the measurements.
    rt.block_on(async {
        let pid = kernel
            .start(common::start("minimal", "{}", work.path()))
            .await
            .expect("start");
        kernel.wait(pid).await.expect("wait");
    });

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut g = c.benchmark_group("spawn");
    g.bench_function("raw", |b| {
        b.to_async(&rt).iter(|| common::raw_run(&engine, &pre))
    });
    g.bench_function("libos", |b| {
        b.to_async(&rt).iter(|| async {
            let pid = kernel
                .start(common::start("minimal", "{}", work.path()))
                .await
                .expect("start");
            kernel.wait(pid).await.expect("wait");
        })
    });
    g.bench_function("libos-in-task", |b| {
        b.to_async(&rt).iter_custom(|n| {
            let kernel = kernel.clone();
            let work = work.path().to_path_buf();
            async move {
                tokio::spawn(async move {
                    let t = Instant::now();
                    for _ in 0..n {
                        let pid = kernel
                            .start(common::start("minimal", "{}", &work))
                            .await
                            .expect("start");
                        kernel.wait(pid).await.expect("wait");
                    }
                    t.elapsed()
                })
                .await
                .expect("task")
            }
        })
    });
    g.finish();
    kernel.host().flush_audit().expect("flush");

    let word_count = rt
        .block_on(kernel.host().load(Path::new(libos_guests::WORD_COUNT)))
        .expect("load word_count");
    let options = CallOptions {
        on_behalf_of: None,
        cwd: String::new(),
        capabilities: Vec::new(),
        policy: Arc::new(Policy::permit_all()),
        workdir: Some(work.path().to_path_buf()),
        limits: Limits::default(),
        seed: libos::host::Seed::Fixed(1),
        meter: None,
        human: None,
    };
    let tool_input = serde_json::json!({ "text": WORDS }).to_string();
    // Load the tool into the kernel's cache once, outside the measurements.
    rt.block_on(calls_in_process(&kernel, work.path(), 1));
    let mut g = c.benchmark_group("tool_call");
    g.bench_function("host", |b| {
        b.to_async(&rt).iter(|| async {
            let report = kernel.host().call(&word_count, &tool_input, &options).await;
            assert!(report.result.is_ok());
        })
    });
    g.bench_function("process", |b| {
        b.to_async(&rt)
            .iter_custom(|n| calls_in_process(&kernel, work.path(), n))
    });
    g.finish();
    kernel.host().flush_audit().expect("flush");

    // `LIBOS_BENCH_NO_PARK=1` leaves the park measurement out (e.g. to profile a group alone).
    let parked = if std::env::var_os("LIBOS_BENCH_NO_PARK").is_some() {
        None
    } else {
        rt.block_on(park(&kernel, work.path()))
    };
    c.final_summary();

    println!("\nsummary (medians)");
    for (ours, how) in [
        ("libos-in-task", "in a task"),
        ("libos", "from outside the runtime"),
    ] {
        if let Some((raw, ours)) = common::medians("spawn", "raw", ours) {
            println!(
                "  spawn  raw {:>9.1} us   libos {:>9.1} us   ratio {:>5.2}   ({how})",
                raw / 1e3,
                ours / 1e3,
                ours / raw
            );
        }
    }
    if let Some((host, process)) = common::medians("tool_call", "host", "process") {
        println!(
            "  tool   host {:>9.1} us   process {:>9.1} us   ratio {:.2}",
            host / 1e3,
            process / 1e3,
            process / host
        );
    }
    match parked {
        Some(p) => println!(
            "  park   {PARKED} waiters: {:.1} KiB each (PSS; RSS {:.1} KiB); started and parked \
             in {:.2} s; woken and exited in {:.2} s",
            p.pss_per_process / 1024.0,
            p.rss_per_process / 1024.0,
            p.park_s,
            p.wake_s
        ),
        None => println!("  park   (not measured, or not all {PARKED} waiters parked)"),
    }
}

struct Parked {
    pss_per_process: f64,
    rss_per_process: f64,
    park_s: f64,
    wake_s: f64,
}

async fn park(kernel: &Kernel, work: &Path) -> Option<Parked> {
    let (before, before_pss) = (rss(), pss());
    if let Some(dir) = std::env::var_os("LIBOS_BENCH_SMAPS") {
        let _ = std::fs::write(
            Path::new(&dir).join("before.smaps"),
            std::fs::read("/proc/self/smaps").unwrap_or_default(),
        );
    }
    let started = Instant::now();
    let mut pids = Vec::with_capacity(PARKED as usize);
    for _ in 0..PARKED {
        pids.push(
            kernel
                .start(common::start("waiter", r#"{"topic":"park"}"#, work))
                .await
                .ok()?,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let live = kernel.table().list(ProcessFilter::Live).ok()?;
        let blocked = live
            .iter()
            .filter(|r| matches!(r.state, State::Blocked(_)))
            .count();
        if blocked >= PARKED as usize {
            break;
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let park_s = started.elapsed().as_secs_f64();
    let (after, after_pss) = (rss(), pss());
    if let Some(dir) = std::env::var_os("LIBOS_BENCH_SMAPS") {
        let _ = std::fs::write(
            Path::new(&dir).join("parked.smaps"),
            std::fs::read("/proc/self/smaps").unwrap_or_default(),
        );
    }
    let woken = Instant::now();
    kernel
        .emit("park", &serde_json::json!({"wake": true}))
        .expect("emit");
    for pid in pids {
        kernel.wait(pid).await.ok()?;
    }
    Some(Parked {
        pss_per_process: after_pss.saturating_sub(before_pss) as f64 / f64::from(PARKED),
        rss_per_process: after.saturating_sub(before) as f64 / f64::from(PARKED),
        park_s,
        wake_s: woken.elapsed().as_secs_f64(),
    })
}
