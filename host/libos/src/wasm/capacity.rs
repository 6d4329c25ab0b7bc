//! Sizing a serving host to the kernel's limits before it starts, so that a full host refuses
//! the next process with a typed error instead of a live one failing on an `mmap` or `open`.
//!
//! Two per-process kernel limits bound how many processes one host can hold:
//!
//! - `vm.max_map_count` (memory mappings; 65,530 by default): the pool's fiber stacks take
//!   [`MAPS_PER_SLOT`] each when the host starts, and each live instance adds
//!   [`MAPS_PER_INSTANCE`] (its linear memory's accessible and copy-on-write parts);
//! - the open-file limit (`RLIMIT_NOFILE`): a live process holds no descriptor of its own,
//!   but the host keeps [`FILES_RESERVED`] for its databases, directories and commands; the
//!   soft limit is raised to the hard one at start.
//!
//! [`fit`] returns the most processes (up to those asked for) both allow, and when that is
//! fewer, which limit stands in the way and how to raise it.

/// Memory mappings each pool slot takes when the pool is created (a fiber stack and its guard
/// page), used or not.
pub const MAPS_PER_SLOT: u64 = 2;

/// Memory mappings a live instance adds (measured with the waiter agent: its linear memory's
/// shadow stack, copy-on-write data image, heap, and the reservation split after them).
pub const MAPS_PER_INSTANCE: u64 = 4;

/// Mappings kept free for everything else of the host (libraries, thread stacks, the
/// database, compiled code of many components).
const MAPS_RESERVED: u64 = 4_096;

/// Descriptors a host needs whatever it runs (databases, working directories, commands'
/// pipes, compiled-code files).
pub const FILES_RESERVED: u64 = 256;

/// The kernel file holding the mapping limit.
const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

/// How many processes a host may be sized for here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// The processes to size the host for: those asked for, or fewer where a limit allows
    /// fewer.
    pub processes: u32,
    /// When fewer than asked: the limit, its value, what it allows and how to raise it.
    pub limited_by: Option<String>,
}

/// The capacity of a host asked to serve `asked` processes on this machine (see the module
/// docs). Raises the soft open-file limit to the hard one on the way.
pub fn fit(asked: u32) -> Capacity {
    let maps = std::fs::read_to_string(MAX_MAP_COUNT)
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    let in_use = std::fs::read_to_string("/proc/self/maps")
        .map(|text| text.lines().count() as u64)
        .unwrap_or(0);
    fit_within(asked, maps, in_use)
}

/// [`fit`] for a mapping limit of `max_map_count` (unknown: not bounded) with `in_use`
/// mappings already made.
pub fn fit_within(asked: u32, max_map_count: Option<u64>, in_use: u64) -> Capacity {
    let mut capacity = Capacity {
        processes: asked,
        limited_by: None,
    };
    if let Some(limit) = max_map_count {
        let free = limit.saturating_sub(in_use).saturating_sub(MAPS_RESERVED);
        let allowed = most_processes(asked, |p| maps_needed(p) <= free);
        if allowed < asked {
            let wanted = maps_needed(asked) + in_use + MAPS_RESERVED;
            capacity.processes = allowed.max(1);
            capacity.limited_by = Some(format!(
                "vm.max_map_count is {limit}: memory mappings for {} live processes \
                 (not the {asked} asked for); raise it with \
                 `sysctl -w vm.max_map_count={}` (as root)",
                capacity.processes,
                wanted.next_multiple_of(1 << 16)
            ));
        }
    }
    if let Some((soft, hard)) = raise_open_files() {
        let free = soft.saturating_sub(FILES_RESERVED);
        if free == 0 {
            capacity.limited_by.get_or_insert_with(|| {
                format!(
                    "the open-file limit is {soft} (hard {hard}): a host needs at least {} \
                     descriptors; raise it with `ulimit -n`",
                    FILES_RESERVED + 1
                )
            });
        }
    }
    capacity
}

/// Mappings a host of `processes` processes needs at most: its pool's slots and every
/// process live.
pub fn maps_needed(processes: u32) -> u64 {
    let slots = u64::from(processes) + u64::from(super::engine::tool_room(processes));
    slots * MAPS_PER_SLOT + slots * MAPS_PER_INSTANCE
}

/// The largest `p <= asked` with `fits(p)` (0 if none), for a monotone `fits`.
fn most_processes(asked: u32, fits: impl Fn(u32) -> bool) -> u32 {
    if fits(asked) {
        return asked;
    }
    let (mut low, mut high) = (0u32, asked);
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if fits(mid) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

/// Raises the soft open-file limit to the hard one; the limits after it, if known.
fn raise_open_files() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some((limit.rlim_cur, limit.rlim_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_fits_what_the_mapping_limit_allows_and_says_how_to_raise_it() {
        let roomy = fit_within(10_000, Some(1 << 20), 500);
        assert_eq!(roomy.processes, 10_000);
        assert!(roomy.limited_by.is_none());
        let tight = fit_within(100_000, Some(65_530), 500);
        assert!(
            tight.processes < 100_000 && tight.processes > 1_000,
            "{tight:?}"
        );
        assert!(maps_needed(tight.processes) + 500 + MAPS_RESERVED <= 65_530);
        assert!(maps_needed(tight.processes + 1) + 500 + MAPS_RESERVED > 65_530);
        let said = tight.limited_by.expect("says why");
        assert!(said.contains("vm.max_map_count is 65530"), "{said}");
        assert!(said.contains("sysctl -w vm.max_map_count="), "{said}");
        // The default host fits the kernel's default limit without a warning.
        let default = fit_within(
            super::super::engine::DEFAULT_MAX_PROCESSES,
            Some(65_530),
            600,
        );
        assert!(default.limited_by.is_none(), "{default:?}");
        // Unknown limit: not bounded by it.
        assert_eq!(fit_within(7, None, 0).processes, 7);
    }
}
