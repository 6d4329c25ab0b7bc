//! The cost of one `Authority::check` with a cached verdict: with an audit sink that drops
//! records (the authority's own work) and with the real audit log (plus the queue hand-off;
//! the writer drains between iterations, untimed). `check-uncached` is the cost of deciding a
//! request the first time (capability match and Cedar evaluation).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use libos_audit::{AuditLog, AuditRecord, AuditSink};
use libos_authority::{Authority, CapabilitySet, Policy, Request};

const N: u64 = 1000;

struct Discard;

impl AuditSink for Discard {
    fn append(&self, record: AuditRecord) {
        drop(black_box(record));
    }
}

fn authority(audit: Arc<dyn AuditSink>) -> Authority {
    let caps = CapabilitySet::new(
        ["clock.read:**", "fs.read:**"]
            .iter()
            .map(|c| c.parse().expect("capability"))
            .collect(),
    )
    .expect("capabilities");
    let policy = Policy::parse(
        r#"@id("reads") permit(principal, action, resource);
           @id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#,
        "bench.cedar",
    )
    .expect("policy");
    Authority::new(caps, Arc::new(policy), audit)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(AuditLog::open(&dir.path().join("bench.db")).expect("log"));
    let discard = authority(Arc::new(Discard));
    let logged = authority(log.clone());
    let req = Request {
        subject: "component:0123456789ab",
        action: "clock.read",
        resource: "monotonic",
        args_digest: None,
        detail: None,
    };
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("check");
    g.throughput(Throughput::Elements(N));
    for (name, authority) in [("discard", &discard), ("audit-log", &logged)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for _ in 0..N {
                        black_box(authority.check(black_box(&req)));
                    }
                    timed += start.elapsed();
                    log.flush().expect("flush");
                }
                timed
            })
        });
    }
    g.finish();

    // A verdict that is not cached: the capability match plus one Cedar evaluation.
    let uncached = authority(Arc::new(Discard)).with_cache_capacity(0);
    let mut g = c.benchmark_group("check-uncached");
    g.bench_function("discard", |b| {
        b.iter(|| black_box(uncached.check(black_box(&req))))
    });
    g.finish();
    c.final_summary();
}
