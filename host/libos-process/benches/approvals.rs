//! What a person in the loop costs, each next to its baseline in the same run.
//!
//! * `grant`: `fs.write` from inside a process, timed by the agent around a loop of writes
//!   of the same bytes to the same file: `allowed` (the policy permits writes) vs `covered`
//!   (the policy asks about writes; a person approved the first one with scope `session`,
//!   and every write after it is covered by that grant: the file's version is read, the
//!   grant is found and a use taken, the write is made, the grant follows the new version).
//! * `approve`: time from a person's decision (`HumanQueue::approve`, what `libos approve`
//!   does after starting up) to the process that waited for it running again (it exits at
//!   once; its exit is seen through `Kernel::wait`), over 41 processes; p50 and p90.
//!
//! Run: `cargo bench -p libos-process --bench approvals`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use libos::host::HostOptions;
use libos_human::{HumanQueue, Scope};
use libos_image::ImageStore;
use libos_process::{ExitStatus, Kernel, Start};
use serde_json::{Value, json};

const ALLOW: &str = r#"
@id("clock") permit (principal, action == Action::"clock.read", resource);
@id("writes") permit (principal, action == Action::"fs.write", resource);
"#;
const ASK: &str = r#"
@id("clock") permit (principal, action == Action::"clock.read", resource);
@id("ask-writes") @decision("ask") permit (principal, action == Action::"fs.write", resource);
"#;

fn image(state: &Path, dir: &Path, name: &str, policy: &str) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(libos_guests::AGENT_SCRIPT, d.join("agent.wasm")).expect("copy");
    std::fs::write(d.join("policy.cedar"), policy).expect("policy");
    std::fs::write(
        d.join("image.toml"),
        format!(
            "name = {name:?}\nversion = \"1\"\nagent = \"agent.wasm\"\npolicy = \"policy.cedar\"\n\
             capabilities = [\"fs.*:**\"]\n"
        ),
    )
    .expect("manifest");
    ImageStore::open(state)
        .expect("store")
        .build(&d)
        .expect("build");
}

fn start(image: &str, input: &Value, work: &Path) -> Start {
    Start {
        image: image.into(),
        input: input.to_string(),
        capabilities: None,
        workdir: work.to_path_buf(),
        cwd: "/".into(),
        parent: None,
    }
}

/// Approves the first request `pid` makes with `scope`, once it is waiting; returns when.
async fn approve_first(queue: &HumanQueue, pid: u64, scope: Scope) -> Instant {
    loop {
        if let Some(r) = queue
            .pending()
            .expect("pending")
            .into_iter()
            .find(|r| r.pid == pid)
        {
            let at = Instant::now();
            let (_, grant) = queue.approve(&r.id, scope, None, "bench").expect("approve");
            // As `libos approve` does: the record that lets the host use the grant.
            record_approval(audit_log(), &grant);
            return at;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The audit log `libos approve` writes its records to (the bench's state directory).
fn audit_log() -> &'static libos_audit::AuditLog {
    AUDIT.get().expect("audit log opened in main")
}

static AUDIT: std::sync::OnceLock<libos_audit::AuditLog> = std::sync::OnceLock::new();

/// Records the approval that minted `grant`, carrying its digest, and stores it.
fn record_approval(log: &libos_audit::AuditLog, grant: &libos_human::Grant) {
    use libos_audit::AuditSink as _;
    let mut record = libos_audit::AuditRecord::decided_now(
        ("human:bench", "human.approve", "answer"),
        libos_audit::Verdict::Allow,
        "approved",
        Some(grant.request_id.clone()),
    );
    record.args_digest = Some(grant.digest());
    log.append(record);
    log.flush().expect("audit flush");
}

/// The results of `pid`'s steps.
async fn results(kernel: &Kernel, pid: u64) -> Vec<Value> {
    match kernel.wait(pid).await.expect("wait") {
        ExitStatus::Exited(out) => {
            let v: Value = serde_json::from_str(&out).expect("JSON");
            v["results"].as_array().cloned().unwrap_or_default()
        }
        other => panic!("ended {other:?}"),
    }
}

/// `n` writes inside a process of `image`, timed by the agent; the first write (untimed)
/// waits for a person's approval if the policy asks.
async fn writes(kernel: &Kernel, queue: &HumanQueue, image: &str, work: &Path, n: u64) -> Duration {
    let steps = json!({"steps": [
        {"op": "write", "path": "out.txt", "text": "the same bytes", "wait_approval_ms": 0},
        {"op": "repeat", "times": n,
         "step": {"op": "write", "path": "out.txt", "text": "the same bytes"}},
    ], "stop_on_error": true});
    let pid = kernel
        .start(start(image, &steps, work))
        .await
        .expect("start");
    if image == "covered" {
        approve_first(queue, pid, Scope::Session).await;
    }
    let results = results(kernel, pid).await;
    let repeat = &results[1]["ok"];
    assert_eq!(repeat["done"], n, "{results:?}");
    Duration::from_nanos(repeat["elapsed_ns"].as_u64().unwrap_or(0))
}

fn main() {
    let rt = common::runtime();
    let state = tempfile::tempdir().expect("state");
    let images = tempfile::tempdir().expect("images");
    let work = tempfile::tempdir().expect("work");
    image(state.path(), images.path(), "allowed", ALLOW);
    image(state.path(), images.path(), "covered", ASK);
    let kernel = rt
        .block_on(async {
            Kernel::new(HostOptions {
                state_dir: Some(state.path().to_path_buf()),
                ..HostOptions::default()
            })
        })
        .expect("kernel");
    let queue = HumanQueue::open(state.path().join("libos.db")).expect("queue");
    let _ = AUDIT.set(libos_audit::AuditLog::open(&state.path().join("libos.db")).expect("audit"));
    // Compile the agent once, outside the measurements.
    rt.block_on(writes(&kernel, &queue, "allowed", work.path(), 1));

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut g = c.benchmark_group("grant");
    for name in ["allowed", "covered"] {
        g.bench_function(name, |b| {
            b.to_async(&rt)
                .iter_custom(|n| writes(&kernel, &queue, name, work.path(), n))
        });
    }
    g.finish();

    // Approval to running again.
    let mut waits: Vec<Duration> = Vec::new();
    rt.block_on(async {
        for _ in 0..41 {
            let steps = json!({"steps": [
                {"op": "write", "path": "approved.txt", "text": "x"},
                {"op": "await_approval", "id": "$0"},
            ]});
            let pid = kernel
                .start(start("covered", &steps, work.path()))
                .await
                .expect("start");
            // Let it park on the request first.
            loop {
                let parked = kernel
                    .table()
                    .get(pid)
                    .map(|r| r.state.name() == "blocked")
                    .unwrap_or(false);
                let asked = queue.pending().map(|p| p.iter().any(|r| r.pid == pid));
                if parked && asked.unwrap_or(false) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let at = approve_first(&queue, pid, Scope::Once).await;
            kernel.wait(pid).await.expect("wait");
            waits.push(at.elapsed());
        }
    });
    waits.sort();
    let pct = |p: usize| waits[(waits.len() - 1) * p / 100];
    c.final_summary();

    println!("\nsummary (medians)");
    if let Some((allowed, covered)) = common::medians("grant", "allowed", "covered") {
        println!(
            "  write  allowed {:>9.1} us   covered by a grant {:>9.1} us   ratio {:.2}",
            allowed / 1e3,
            covered / 1e3,
            covered / allowed
        );
    }
    println!(
        "  approve -> running: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms ({} processes)",
        pct(50).as_secs_f64() * 1e3,
        pct(90).as_secs_f64() * 1e3,
        waits.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        waits.len()
    );
}
