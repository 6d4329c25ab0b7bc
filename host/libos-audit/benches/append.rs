//! The cost of one `append` on the caller's thread (the writer drains between iterations,
//! untimed), next to the cost of building the record alone.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use libos_audit::{AuditLog, AuditRecord, AuditSink, Verdict};

const N: u64 = 1000;

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        time_ns: i as i64,
        decided: std::sync::Arc::new(libos_audit::Decided {
            subject: "tool:bench".into(),
            action: "clock.read".into(),
            resource: "monotonic".into(),
            verdict: Verdict::Allow,
            reason: "granted by capability clock.read:**".into(),
            policy_ids: vec!["reads".to_owned()].into(),
        }),
        request_id: None,
        args_digest: None,
        detail: None,
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(&dir.path().join("bench.db")).expect("log");
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(N));
    g.bench_function("build-only", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                for i in 0..N {
                    drop(black_box(record(i)));
                }
                timed += start.elapsed();
            }
            timed
        })
    });
    g.bench_function("build+append", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                for i in 0..N {
                    log.append(record(i));
                }
                timed += start.elapsed();
                log.flush().expect("flush");
            }
            timed
        })
    });
    g.finish();
    c.final_summary();
}
