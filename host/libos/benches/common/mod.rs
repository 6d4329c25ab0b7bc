//! What the benchmarks of this crate share.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use libos::host::CallOptions;
use libos::limits::Limits;
use libos_authority::Policy;

/// The options of a benchmarked call: `fs.read:**` in `work` under a policy that permits
/// everything but `secrets/*` (so every decision runs Cedar with a `forbid` to check), a
/// 60-second deadline, no budget and no human queue.
pub fn reading_options(work: &Path) -> CallOptions {
    CallOptions {
        on_behalf_of: None,
        cwd: String::new(),
        capabilities: vec!["fs.read:**".parse().expect("cap")],
        policy: Arc::new(
            Policy::parse(
                r#"@id("reads") permit(principal, action, resource);
                   @id("no-secrets") forbid(principal, action, resource) when { resource.path like "secrets/*" };"#,
                "bench.cedar",
            )
            .expect("policy"),
        ),
        workdir: Some(work.to_path_buf()),
        limits: Limits {
            timeout: Duration::from_secs(60),
            ..Limits::default()
        },
        seed: libos::host::Seed::Fixed(1),
        meter: None,
        human: None,
    }
}
