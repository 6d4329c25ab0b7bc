//! Helpers shared by the benchmarks of this crate.

use std::path::Path;

/// The criterion medians (ns) of `group/base` and `group/ours` from this run's results.
pub fn medians(group: &str, base: &str, ours: &str) -> Option<(f64, f64)> {
    let read = |id: &str| -> Option<f64> {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()?
            .join("criterion")
            .join(group)
            .join(id)
            .join("new/estimates.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    Some((read(base)?, read(ours)?))
}
