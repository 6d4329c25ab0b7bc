//! What confining a shell command costs, next to its baselines in the same run.
//!
//! Each side runs `true` through a process's `shell` primitive, timed by the agent around a
//! loop of commands (`repeat`), in a working directory of 200 files:
//! * `raw`: `std::process::Command` spawning `true` and waiting for it (no runtime at all);
//! * `unconfined`: the primitive with Landlock withheld (`confine::limit_abi(0)`) and the
//!   process holding `shell.unconfined`: decision, audit, classification, spawn, wait;
//! * `confined`: the same primitive as a user gets it: plus the walk of the working directory,
//!   the grants the policy allows there turned into Landlock rules, and their enforcement in
//!   the child.
//!
//! Run: `cargo bench -p libos-process --bench shell`. Target: confined - unconfined <= 1 ms.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use libos::host::HostOptions;
use libos::primitives::shell::confine;
use libos_image::ImageStore;
use libos_process::{ExitStatus, Kernel};
use serde_json::{Value, json};

fn image(state: &Path, dir: &Path) {
    let d = dir.join("sh");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_SCRIPT, d.join("agent.wasm")).expect("copy");
    std::fs::write(
        d.join("image.toml"),
        "name = \"sh\"\nversion = \"1\"\nagent = \"agent.wasm\"\n\
         capabilities = [\"fs.read:**\", \"fs.write:out/**\", \"shell.exec:*\", \
         \"shell.unconfined\"]\n\n[limits]\nwall_clock = \"1h\"\n",
    )
    .expect("manifest");
    ImageStore::open(state)
        .expect("store")
        .build(&d)
        .expect("build");
}

/// `n` runs of `true` inside one process, timed by the agent.
async fn commands(kernel: &Kernel, work: &Path, n: u64) -> Duration {
    let steps = json!({"steps": [
        {"op": "repeat", "times": n, "step": {"op": "shell", "argv": ["true"]}},
    ], "stop_on_error": true});
    let pid = kernel
        .start(common::start("sh", &steps.to_string(), work))
        .await
        .expect("start");
    let out = match kernel.wait(pid).await.expect("wait") {
        ExitStatus::Exited(out) => out,
        other => panic!("ended {other:?}"),
    };
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let repeat = &v["results"][0]["ok"];
    assert_eq!(repeat["done"], n, "{v}");
    Duration::from_nanos(repeat["elapsed_ns"].as_u64().unwrap_or(0))
}

fn main() {
    let rt = common::runtime();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
    for d in 0..10 {
        let dir = work.path().join(format!("d{d}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..20 {
            std::fs::write(dir.join(format!("f{f}.txt")), "x").expect("file");
        }
    }
    image(state.path(), images.path());
    let kernel = rt
        .block_on(async {
            Kernel::new(HostOptions {
                state_dir: Some(state.path().to_path_buf()),
                ..HostOptions::default()
            })
        })
        .expect("kernel");
    // Compile the agent once, outside the measurements.
    rt.block_on(commands(&kernel, work.path(), 1));

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut g = c.benchmark_group("shell");
    g.bench_function("raw", |b| {
        b.iter_custom(|n| {
            let started = Instant::now();
            for _ in 0..n {
                let status = std::process::Command::new("/usr/bin/true")
                    .current_dir(work.path())
                    .status()
                    .expect("true");
                assert!(status.success());
            }
            started.elapsed()
        })
    });
    g.bench_function("confined", |b| {
        b.to_async(&rt)
            .iter_custom(|n| commands(&kernel, work.path(), n))
    });
    confine::limit_abi(0);
    g.bench_function("unconfined", |b| {
        b.to_async(&rt)
            .iter_custom(|n| commands(&kernel, work.path(), n))
    });
    g.finish();
    c.final_summary();

    println!("\nsummary (medians per command)");
    if let (Some((raw, unconfined)), Some((_, confined))) = (
        common::medians("shell", "raw", "unconfined"),
        common::medians("shell", "raw", "confined"),
    ) {
        println!(
            "  raw spawn {:>8.1} us   unconfined {:>8.1} us   confined {:>8.1} us   \
             Landlock adds {:>7.1} us (target <= 1000)   confined/raw {:.2}",
            raw / 1e3,
            unconfined / 1e3,
            confined / 1e3,
            (confined - unconfined) / 1e3,
            confined / raw
        );
    }
}
