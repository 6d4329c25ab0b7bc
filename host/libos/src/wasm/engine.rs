//! Engine configuration: deterministic, interruptible, fuel-metered, async; and how instances
//! are allocated (a pool sized for the processes a host serves, or on demand).

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::HostError;

/// How the engine allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocation {
    /// Allocate memories on demand: cheapest start-up, for one-shot commands (`libos tool
    /// call`) and tests.
    #[default]
    OnDemand,
    /// Pre-reserve slots for `instances` instances (each with one linear memory, one fiber
    /// stack and its tables): instantiation in a few microseconds and a bounded, known
    /// footprint, for hosts that serve processes. Build it with [`Allocation::serving`].
    Pooling { instances: u32 },
}

/// Live processes a serving host (`libos run`, the background host of `run -d`) holds by
/// default; `--max-processes` / `LIBOS_MAX_PROCESSES` change it. Sized so that a host fits the
/// kernel's default `vm.max_map_count` (65,530; see [`crate::wasm::capacity`]).
pub const DEFAULT_MAX_PROCESSES: u32 = 8_000;

/// Most live processes one host can be sized for: the memory pool's address space
/// ([`POOL_ADDRESS_SPACE`]) divided by a slot's size, less the room for tool calls.
pub const MAX_PROCESSES: u32 = 150_000;

/// Largest linear memory any call may be allowed (the per-call cap is at most this). On a
/// pooled host a memory cannot grow past [`MEMORY_RESERVATION`].
pub const MAX_MEMORY_CEILING: usize = 1 << 30;

/// Address space reserved for each linear memory, and so the most a memory of a pooled
/// instance can hold. Memories are bounds-checked against it (no 4 GiB reservation per
/// memory): what lets a host reserve slots for 100,000 processes within the 128 TiB of a
/// 64-bit address space.
pub const MEMORY_RESERVATION: usize = 256 << 20;

/// Inaccessible bytes after each linear memory (accesses with a constant offset below this
/// need no extra bounds check).
const MEMORY_GUARD: u64 = 64 << 10;

/// Address space the memory pool of a host may take at most.
const POOL_ADDRESS_SPACE: u64 = 48 << 40;

/// Stack a pooled fiber (one per live instance) reserves; only the pages a call touches are
/// resident.
pub(crate) const FIBER_STACK: usize = 2 << 20;

/// Deepest wasm stack a call may use (below [`FIBER_STACK`], which also holds host frames).
pub(crate) const WASM_STACK: usize = 1 << 20;

/// Linear memory a pooled slot keeps resident between instances (dirty pages past it are
/// released with `madvise`).
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;

impl Allocation {
    /// The pool of a host serving up to `processes` live processes: a slot for each and room
    /// for the tool calls they make at once ([`tool_room`]).
    pub fn serving(processes: u32) -> Allocation {
        Allocation::Pooling {
            instances: processes.saturating_add(tool_room(processes)),
        }
    }
}

/// Pool slots kept beyond the processes of a serving host for the tool calls they make (each
/// call instantiates its tool): an eighth of the processes, between 16 and 1,024.
pub fn tool_room(processes: u32) -> u32 {
    (processes / 8).clamp(16, 1024)
}

/// Builds the engine every component runs on.
///
/// Execution is deterministic (NaN canonicalization, deterministic relaxed SIMD; the `threads`
/// feature is not compiled in), interruptible (epoch interruption: the host's ticker bumps the
/// epoch, each store sets a deadline), and metered (fuel). Both strategies compile the same
/// code (same memory reservation and guard), so they share the compiled-component cache.
///
/// # Errors
///
/// [`HostError::Engine`] if the pool asked for is larger than [`MAX_PROCESSES`] allows, or
/// the operating system refuses its reservations (see [`crate::wasm::capacity`] for sizing
/// a pool to the kernel's limits first).
pub fn build(allocation: Allocation) -> Result<Engine, HostError> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true)
        .max_wasm_stack(WASM_STACK)
        .async_stack_size(FIBER_STACK)
        .memory_reservation(MEMORY_RESERVATION as u64)
        .memory_guard_size(MEMORY_GUARD);
    if let Allocation::Pooling { instances } = allocation {
        let most = MAX_PROCESSES.saturating_add(tool_room(MAX_PROCESSES));
        if instances > most {
            return Err(HostError::Engine(format!(
                "a pool of {instances} instances is larger than a host can reserve \
                 (at most {most}: {MAX_PROCESSES} processes)"
            )));
        }
        debug_assert!(
            u64::from(most) * (MEMORY_RESERVATION as u64 + MEMORY_GUARD) <= POOL_ADDRESS_SPACE
        );
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_stacks(instances)
            .total_core_instances(instances.saturating_mul(4))
            // One memory per instance: our agents and tools have one; a component with more
            // takes more slots, and a full pool refuses the next instance.
            .total_memories(instances)
            .total_tables(instances.saturating_mul(4))
            .max_memory_size(MEMORY_RESERVATION)
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

/// Whether `error` (from instantiating) says the instance pool is full.
pub fn is_pool_full(error: &wasmtime::Error) -> bool {
    error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
}

#[cfg(test)]
mod tests {
    use wasmtime::Store;
    use wasmtime::component::{Component, Linker};

    use super::*;

    #[test]
    fn a_full_pool_refuses_the_next_instance_by_name_and_frees_the_slot_after() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = build(Allocation::Pooling { instances: 1 }).expect("engine");
        let component =
            Component::from_file(&engine, libos_guests::AGENT_MINIMAL).expect("compile");
        let mut linker: Linker<()> = Linker::new(&engine);
        linker
            .define_unknown_imports_as_traps(&component)
            .expect("stub imports");
        let pre = linker.instantiate_pre(&component).expect("pre");
        let store = || {
            let mut store = Store::new(&engine, ());
            store.set_fuel(u64::MAX / 2).expect("fuel");
            store.set_epoch_deadline(u64::MAX / 2);
            store
        };
        rt.block_on(async {
            let mut first = store();
            pre.instantiate_async(&mut first)
                .await
                .expect("the one slot");
            let mut second = store();
            let refused = pre
                .instantiate_async(&mut second)
                .await
                .expect_err("the pool is full");
            assert!(is_pool_full(&refused), "{refused:#}");
            drop(first);
            let mut third = store();
            pre.instantiate_async(&mut third)
                .await
                .expect("the slot is free again");
        });
    }

    #[test]
    fn a_pool_larger_than_a_host_can_reserve_is_refused_with_the_bound() {
        let too_many = MAX_PROCESSES + tool_room(MAX_PROCESSES) + 1;
        let Err(e) = build(Allocation::Pooling {
            instances: too_many,
        }) else {
            panic!("built a pool of {too_many}");
        };
        assert!(e.to_string().contains("150000"), "{e}");
    }
}
