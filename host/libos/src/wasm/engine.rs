//! Engine configuration: deterministic, interruptible, fuel-metered, async.

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::HostError;

/// How the engine allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocation {
    /// Allocate memories on demand: cheapest start-up, for one-shot commands.
    #[default]
    OnDemand,
    /// Pre-reserve slots for `instances` instances: instantiation in a few microseconds, for
    /// hosts that instantiate many times.
    Pooling { instances: u32 },
}

/// Largest linear memory any call may be allowed (the per-call cap is at most this).
pub const MAX_MEMORY_CEILING: usize = 1 << 30;

/// Linear memory a pooled slot keeps resident between instances (dirty pages past it are
/// released with `madvise`).
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;

/// Builds the engine every component runs on.
///
/// Execution is deterministic (NaN canonicalization, deterministic relaxed SIMD, no threads),
/// (the `threads` feature is not compiled in), interruptible (epoch interruption: the host's ticker bumps the epoch, each store sets a
/// deadline), and metered (fuel).
pub fn build(allocation: Allocation) -> Result<Engine, HostError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true)
        .max_wasm_stack(1 << 20);
    if let Allocation::Pooling { instances } = allocation {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_stacks(instances)
            .total_core_instances(instances * 4)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .max_memory_size(MAX_MEMORY_CEILING)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_core_instances_per_component(8)
            // Resetting a slot by madvise costs a syscall and a TLB shootdown per instance;
            // batching the decommits and keeping fiber stacks and tables resident (reset by
            // memset) is cheaper for the small instances tools are.
            .decommit_batch_size(32)
            .async_stack_keep_resident(128 << 10)
            .table_keep_resident(64 << 10)
            // Reset linear memory by rewriting only the pages the instance dirtied (found with
            // Linux's PAGEMAP_SCAN; `Auto` falls back where the kernel lacks it), up to this
            // much; pages stay mapped, so the next instance takes no page faults on them.
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(|e| HostError::Engine(format!("{e:#}")))
}

/// A stable digest of everything in the engine's configuration that affects compiled code;
/// part of the compiled-component cache key.
pub fn compatibility_key(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
