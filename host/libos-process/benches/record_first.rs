//! What recording before acting costs: `fs.write` from inside a process, which waits until
//! the audit record that allowed it is committed (group commit) before it writes, next to
//! the same write made directly by the host in the same run.
//!
//! * `write/raw`: `libos::primitives::beneath::atomic_write` of 14 bytes to the same file,
//!   called in a loop by the host (the effect alone: unnamed file, sync, link, rename).
//! * `write/libos`: the `fs.write` primitive of the same bytes to the same file, in a loop
//!   timed by the agent (decision, audit record stored and synced, then the same write).
//! * `sustained/1` and `sustained/16`: writes to distinct files by 1 process and by 16
//!   processes at once; criterion's time is wall time per write, so writes/s = 1e9 / it. With
//!   16 writers one batch commits many records, which is what group commit buys.
//!
//! Run: `cargo bench -p libos-process --bench record_first`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use libos::host::HostOptions;
use libos_image::ImageStore;
use libos_process::{ExitStatus, Kernel};
use serde_json::{Value, json};

const POLICY: &str = r#"
@id("clock") permit (principal, action == Action::"clock.read", resource);
@id("writes") permit (principal, action == Action::"fs.write", resource);
"#;

fn image(state: &Path, dir: &Path) {
    let d = dir.join("writer");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_SCRIPT, d.join("agent.wasm")).expect("copy");
    std::fs::write(d.join("policy.cedar"), POLICY).expect("policy");
    std::fs::write(
        d.join("image.toml"),
        "name = \"writer\"\nversion = \"1\"\nagent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
         capabilities = [\"fs.*:**\"]\n",
    )
    .expect("manifest");
    ImageStore::open(state)
        .expect("store")
        .build(&d)
        .expect("build");
}

/// Starts a process writing `n` times to `path` (`{i}`: the iteration) and returns its pid.
async fn start_writer(kernel: &Kernel, work: &Path, path: &str, n: u64) -> u64 {
    let steps = json!({"steps": [{"op": "repeat", "times": n,
        "step": {"op": "write", "path": path, "text": "the same bytes"}}], "stop_on_error": true});
    kernel
        .start(common::start("writer", &steps.to_string(), work))
        .await
        .expect("start")
}

/// Waits for writer `pid`; returns the time its loop took (by the agent's clock).
async fn finished(kernel: &Kernel, pid: u64, n: u64) -> Duration {
    let out = match kernel.wait(pid).await.expect("wait") {
        ExitStatus::Exited(out) => out,
        other => panic!("ended {other:?}"),
    };
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let repeat = &v["results"][0]["ok"];
    assert_eq!(repeat["done"], n, "{v}");
    Duration::from_nanos(repeat["elapsed_ns"].as_u64().unwrap_or(0))
}

/// `total` writes to distinct files spread over `processes` processes started together; the
/// wall time from the first start to the last exit.
async fn sustained(kernel: &Kernel, work: &Path, processes: u64, total: u64) -> Duration {
    let each = total.div_ceil(processes).max(1);
    let began = Instant::now();
    let mut pids = Vec::new();
    for p in 0..processes {
        std::fs::create_dir(work.join(format!("p{p}"))).expect("mkdir");
        pids.push(start_writer(kernel, work, &format!("p{p}/f{{i}}"), each).await);
    }
    for pid in pids {
        finished(kernel, pid, each).await;
    }
    let wall = began.elapsed();
    // Per write asked for, as criterion divides by `total`.
    wall.mul_f64(total as f64 / (each * processes) as f64)
}

fn main() {
    let rt = common::runtime();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
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
    rt.block_on(async {
        let pid = start_writer(&kernel, work.path(), "warm.txt", 1).await;
        finished(&kernel, pid, 1).await
    });
    let root = std::fs::File::open(work.path()).expect("work dir");

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    let mut g = c.benchmark_group("write");
    g.bench_function("raw", |b| {
        use std::os::fd::AsFd as _;
        b.iter(|| {
            libos::primitives::beneath::atomic_write(root.as_fd(), "out.txt", b"the same bytes")
                .expect("write")
        })
    });
    let (kernel_ref, work_path) = (&kernel, work.path());
    g.bench_function("libos", |b| {
        b.to_async(&rt).iter_custom(|n| async move {
            let pid = start_writer(kernel_ref, work_path, "out.txt", n).await;
            finished(kernel_ref, pid, n).await
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sustained");
    for processes in [1u64, 16] {
        g.bench_function(processes.to_string(), |b| {
            b.to_async(&rt).iter_custom(|n| {
                let work = tempfile::tempdir_in(work.path()).expect("dir");
                let kernel = &kernel;
                async move { sustained(kernel, work.path(), processes, n.max(processes)).await }
            })
        });
    }
    g.finish();

    println!("\nrecording before acting (medians):");
    if let Some((raw, ours)) = common::medians("write", "raw", "libos") {
        println!(
            "  fs.write   raw {:>8.1} µs   libos {:>8.1} µs   ratio {:.2}",
            raw / 1e3,
            ours / 1e3,
            ours / raw
        );
    }
    for processes in ["1", "16"] {
        if let Some((per_write, _)) = common::medians("sustained", processes, processes) {
            println!(
                "  sustained  {processes:>2} process(es): {:>8.0} writes/s",
                1e9 / per_write
            );
        }
    }
}
