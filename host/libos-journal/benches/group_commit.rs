//! Journal appends with group commit against a plain SQLite insert loop with the same
//! durability (each insert its own `synchronous = FULL` commit, as each journal entry is
//! durable before its caller goes on).
//!
//! `append/N`: N threads (processes) each append entries one after another, waiting for each
//! to be durable; criterion's iteration is one entry, so its time per iteration is the
//! inverse of the throughput. `baseline/1`: one thread, one committed insert per entry.
//!
//! Run: `cargo bench -p libos-journal --bench group_commit`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use libos_journal::{EffectState, Entry, Journal};

const CONCURRENCY: [u64; 3] = [1, 8, 64];

fn entry(pid: u64, seq: u64) -> Entry {
    Entry {
        pid,
        seq,
        interface: "libos:runtime/fs".into(),
        function: "read".into(),
        args_digest: [7; 32],
        intent: Vec::new(),
        result: Some(vec![1; 64]),
        state: EffectState::Committed,
        grant: None,
    }
}

/// `total` entries appended by `threads` threads (fresh pids); the time it took.
fn appends(journal: &Arc<Journal>, next_pid: &AtomicU64, threads: u64, total: u64) -> Duration {
    let per = total.div_ceil(threads).max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let pid = next_pid.fetch_add(1, Ordering::Relaxed);
            let journal = Arc::clone(journal);
            s.spawn(move || {
                for seq in 1..=per {
                    journal.append(entry(pid, seq)).wait().expect("durable");
                }
            });
        }
    });
    start.elapsed() * u32::try_from(total).unwrap_or(1) / u32::try_from(per * threads).unwrap_or(1)
}

fn baseline(path: &Path, total: u64) -> Duration {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("full");
    conn.execute_batch(libos_journal::schema::CREATE_TABLES)
        .expect("schema");
    let pid = 1_000_000 + u64::from(std::process::id());
    let start: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM journal WHERE pid = ?1",
            [pid as i64],
            |r| r.get(0),
        )
        .expect("max");
    let mut stmt = conn
        .prepare(
            "INSERT INTO journal (pid, seq, interface, function, args_digest, intent, result, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .expect("prepare");
    let t = Instant::now();
    for i in 1..=total as i64 {
        let e = entry(pid, 0);
        stmt.execute(rusqlite::params![
            pid as i64,
            start + i,
            e.interface,
            e.function,
            &e.args_digest[..],
            e.intent,
            e.result,
            e.state.as_str()
        ])
        .expect("insert");
    }
    t.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("libos.db");
    let journal = Arc::new(Journal::open(&db).expect("journal"));
    let next_pid = AtomicU64::new(1);
    let base_db = dir.path().join("baseline.db");

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("journal");
    g.bench_function("baseline/1", |b| b.iter_custom(|n| baseline(&base_db, n)));
    for threads in CONCURRENCY {
        g.bench_function(format!("append/{threads}"), |b| {
            b.iter_custom(|n| appends(&journal, &next_pid, threads, n.max(threads)))
        });
    }
    g.finish();
    c.final_summary();

    println!("\nsummary (entries per second, medians)");
    let read = |id: &str| -> Option<f64> {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()?
            .join("criterion/journal")
            .join(id)
            .join("new/estimates.json");
        let text = std::fs::read_to_string(p).ok()?;
        let at = text.find("\"median\"")?;
        let rest = &text[at..];
        let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
        rest[at..].split([',', '}']).next()?.trim().parse().ok()
    };
    let base = read("baseline_1");
    for threads in CONCURRENCY {
        if let (Some(ours), Some(base)) = (read(&format!("append_{threads}")), base) {
            println!(
                "  {threads:>2} appenders: {:>9.0}/s   plain insert loop: {:>7.0}/s   ratio {:>6.1}",
                1e9 / ours,
                1e9 / base,
                base / ours
            );
        }
    }
}
