//! A runaway call does not affect others running at the same time.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Env, load, ok_json};
use libos::CallFailure;
use libos::error::LimitKind;
use libos_guests::{SPIN, WORD_COUNT};

#[test]
fn a_spinning_call_does_not_stall_a_concurrent_one() {
    let env = Env::new();
    let host = Arc::new(env.host());
    // One worker thread: fairness must come from time slices, not from a spare thread.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut spin_options = env.options(&[], None);
    spin_options.limits.timeout = Duration::from_secs(3);
    spin_options.limits.fuel = u64::MAX / 4;
    let options = env.options(&[], None);
    let (spin, quick, quick_done_at) = rt.block_on(async {
        let spin_tool = load(&host, SPIN).await;
        let wc = load(&host, WORD_COUNT).await;
        let start = Instant::now();
        let h1 = host.clone();
        let spinner = tokio::spawn(async move { h1.call(&spin_tool, "{}", &spin_options).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut quick = Vec::new();
        for i in 0..5 {
            quick.push(
                host.call(&wc, &format!(r#"{{"text":"call {i}"}}"#), &options)
                    .await,
            );
        }
        let quick_done_at = start.elapsed();
        (spinner.await.unwrap(), quick, quick_done_at)
    });
    assert_eq!(
        spin.result,
        Err(CallFailure::LimitExceeded(LimitKind::Time))
    );
    for q in &quick {
        assert_eq!(ok_json(q)["words"], 2);
    }
    assert!(
        quick_done_at < Duration::from_secs(2),
        "quick calls finished only after {quick_done_at:?}, while the spinner ran to its 3 s deadline"
    );
}
