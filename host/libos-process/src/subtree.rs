//! Live-process bounds: how many processes may be alive at once below a process (its image's
//! `max_descendants`, and every ancestor's) and in the whole host (its `max_processes`).
//!
//! Each process has a [`Subtree`] linked to its parent's; a root's is linked to the host's.
//! Starting a process takes an [`Admission`] from its parent's subtree: one more live
//! process counted at every level up to the host, or at none if any level is full. The
//! admission is held by the process's entry in the host's running map and counts it until
//! the entry is dropped (the process ended or was killed), so the counts are exact whatever
//! way a process ends. Each check is a few atomic operations per level: a spawn costs the
//! same with ten or a hundred thousand processes alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How deep a process tree may grow: a root is at depth 1, its children at 2. Every check of
/// a tree's bounds and budgets walks a process's ancestors, so the depth bounds what one
/// spawn, charge or end costs (and what one chain of short-lived processes, each spawning
/// the next, can make every later spawn cost).
pub const MAX_DEPTH: u32 = 256;

/// The live processes below one process (or in a host), and how many there may be.
#[derive(Debug)]
pub(crate) struct Subtree {
    live: AtomicU64,
    limit: u64,
    parent: Option<Arc<Subtree>>,
    /// For the host's level: how to say it is full.
    host: bool,
    /// 0 for the host, 1 for a root, its parent's + 1 below.
    depth: u32,
}

/// Which level refused an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// A process's `max_descendants` (its own or an ancestor's), with that bound.
    Tree(u64),
    /// The host's `max_processes`, with that bound.
    Host(u64),
    /// The tree is [`MAX_DEPTH`] deep there.
    Depth(u32),
}

impl Subtree {
    /// The host's level: at most `limit` live processes in all.
    pub(crate) fn host(limit: u64) -> Arc<Subtree> {
        Arc::new(Subtree {
            live: AtomicU64::new(0),
            limit,
            parent: None,
            host: true,
            depth: 0,
        })
    }

    /// The level of a process allowed `limit` live descendants, below `parent`'s.
    pub(crate) fn below(parent: &Arc<Subtree>, limit: u64) -> Arc<Subtree> {
        Arc::new(Subtree {
            live: AtomicU64::new(0),
            limit,
            parent: Some(Arc::clone(parent)),
            host: false,
            depth: parent.depth.saturating_add(1),
        })
    }

    /// Counts one more live process below this level and every level above it, or nowhere
    /// if one of them is full.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Admission, Full> {
        if self.depth >= MAX_DEPTH {
            return Err(Full::Depth(MAX_DEPTH));
        }
        let mut counted: Vec<&Subtree> = Vec::new();
        let mut level = Some(&**self);
        while let Some(node) = level {
            let room = node
                .live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    n.checked_add(1).filter(|t| *t <= node.limit)
                });
            if room.is_err() {
                for done in counted {
                    done.live.fetch_sub(1, Ordering::AcqRel);
                }
                return Err(if node.host {
                    Full::Host(node.limit)
                } else {
                    Full::Tree(node.limit)
                });
            }
            counted.push(node);
            level = node.parent.as_deref();
        }
        Ok(Admission(Arc::clone(self)))
    }

    /// The live processes counted at this level.
    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Acquire)
    }
}

/// One live process counted below a subtree and every level above it; dropping it stops
/// counting it.
#[derive(Debug)]
pub(crate) struct Admission(Arc<Subtree>);

impl Drop for Admission {
    fn drop(&mut self) {
        let mut level = Some(&*self.0);
        while let Some(node) = level {
            let _ = node
                .live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    Some(n.saturating_sub(1))
                });
            level = node.parent.as_deref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_bounds_what_lives_below_it_and_an_end_frees_its_place() {
        let host = Subtree::host(3);
        let root = Subtree::below(&host, 2);
        let child = Subtree::below(&root, 10);
        let in_root = root.admit().expect("first");
        let in_child = child.admit().expect("second");
        // The root allows two live descendants: a grandchild is refused there.
        assert_eq!(child.admit().err(), Some(Full::Tree(2)));
        assert_eq!(root.live(), 2);
        // Another tree still fits in the host, then the host is full.
        let other = Subtree::below(&host, 10);
        let in_other = other.admit().expect("third");
        assert_eq!(Subtree::below(&host, 10).admit().err(), Some(Full::Host(3)));
        assert_eq!(host.live(), 3);
        // Refusals counted nothing; ends free their places at every level.
        drop(in_child);
        assert_eq!((root.live(), child.live(), host.live()), (1, 0, 2));
        let again = child.admit().expect("room again");
        drop((in_root, again, in_other));
        assert_eq!((root.live(), host.live()), (0, 0));
    }

    #[test]
    fn a_tree_grows_no_deeper_than_max_depth() {
        let host = Subtree::host(u64::MAX);
        let mut level = Subtree::below(&host, u64::MAX);
        let mut held = Vec::new();
        for _ in 1..MAX_DEPTH {
            held.push(level.admit().expect("within the depth"));
            level = Subtree::below(&level, u64::MAX);
        }
        assert_eq!(level.depth, MAX_DEPTH);
        assert_eq!(level.admit().err(), Some(Full::Depth(MAX_DEPTH)));
        assert_eq!(
            host.live(),
            u64::from(MAX_DEPTH) - 1,
            "the refusal counted nothing"
        );
    }
}
