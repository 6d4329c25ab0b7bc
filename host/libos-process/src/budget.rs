//! Budgets: what a process may spend over its life — tool calls, fuel, bytes written,
//! objects created, children spawned — charged to it and to every ancestor.
//!
//! Each process has a [`Budget`] linked to its parent's. A charge walks the chain and succeeds
//! only if every level has room, so a subtree never spends more than its root was given and
//! a child never more than what its parent has left. A refused charge changes nothing.
//! Budgets live in the host that runs the tree (a child always runs in its parent's host);
//! what each process spent is written to the process table for `libos ps`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libos::error::LimitKind;
use libos::meter::Meter;
use libos_image::ImageBudget;
use libos_proctable::Usage;

/// The kinds of spending a budget tracks, in [`Usage`] order.
const KINDS: [LimitKind; 5] = [
    LimitKind::ToolCalls,
    LimitKind::Fuel,
    LimitKind::BytesWritten,
    LimitKind::Objects,
    LimitKind::Children,
];

fn slot(kind: LimitKind) -> Option<usize> {
    KINDS.iter().position(|k| *k == kind)
}

/// What a process's own calls were charged, by kind in [`Usage`] order (fuel is never
/// counted here: a replayed process burns it again).
pub(crate) type Charges = [u64; 5];

/// The budget of one process: its own limits and spending, and its parent's budget.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: [u64; 5],
    spent: [AtomicU64; 5],
    /// What was charged at this level itself (by the process's own calls, not its
    /// descendants'), fuel excepted: what its journal keeps with each call.
    own: [AtomicU64; 5],
    parent: Option<Arc<Budget>>,
}

/// `budget` as a process's resume record keeps it (an empty one too: a process that started
/// without limits keeps none, whatever image it `exec`s into).
pub(crate) fn stored(budget: &ImageBudget) -> Option<String> {
    serde_json::to_string(budget).ok()
}

/// The budget a process started with, as its resume record keeps it; `None` if none is
/// stored or it cannot be read.
pub(crate) fn started_with(stored: Option<&str>) -> Option<ImageBudget> {
    stored.and_then(|s| serde_json::from_str(s).ok())
}

impl Budget {
    /// A budget with the limits of `image` under `parent`'s.
    pub(crate) fn new(image: &ImageBudget, parent: Option<Arc<Budget>>) -> Arc<Budget> {
        let or_max = |limit: Option<u64>| limit.unwrap_or(u64::MAX);
        Arc::new(Budget {
            limit: [
                or_max(image.tool_calls),
                or_max(image.fuel),
                or_max(image.bytes_written),
                or_max(image.objects),
                or_max(image.children),
            ],
            spent: Default::default(),
            own: Default::default(),
            parent,
        })
    }

    /// What the process's own calls were charged so far ([`Charges`]).
    pub(crate) fn own(&self) -> Charges {
        let mut out = [0; 5];
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.own[i].load(Ordering::Acquire);
        }
        out[1] = 0;
        out
    }

    /// Charges again, without a limit (they were made before), what a replayed call of the
    /// process was charged when it ran: to this budget and every ancestor's.
    pub(crate) fn replay(&self, charges: &Charges) {
        for (i, amount) in charges.iter().enumerate() {
            if i == 1 || *amount == 0 {
                continue;
            }
            let _ = self.own[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(s.saturating_add(*amount))
            });
            let mut level = Some(self);
            while let Some(budget) = level {
                let _ = budget.spent[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                    Some(s.saturating_add(*amount))
                });
                level = budget.parent.as_deref();
            }
        }
    }

    /// Charges `amount` of `kind` to this budget and every ancestor's, or to none of them.
    pub(crate) fn charge(&self, kind: LimitKind, amount: u64) -> Result<(), LimitKind> {
        let Some(i) = slot(kind) else {
            return Ok(());
        };
        let mut charged: Vec<&Budget> = Vec::new();
        let mut level = Some(self);
        while let Some(budget) = level {
            let room = budget.spent[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                s.checked_add(amount).filter(|t| *t <= budget.limit[i])
            });
            if room.is_err() {
                for done in charged {
                    done.spent[i].fetch_sub(amount, Ordering::AcqRel);
                }
                return Err(kind);
            }
            charged.push(budget);
            level = budget.parent.as_deref();
        }
        self.own[i].fetch_add(amount, Ordering::AcqRel);
        Ok(())
    }

    /// Gives back `amount` of `kind` charged before (an effect that did not happen).
    pub(crate) fn refund(&self, kind: LimitKind, amount: u64) {
        let Some(i) = slot(kind) else { return };
        let _ = self.own[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            Some(s.saturating_sub(amount))
        });
        let mut level = Some(self);
        while let Some(budget) = level {
            let _ = budget.spent[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(s.saturating_sub(amount))
            });
            level = budget.parent.as_deref();
        }
    }

    /// Charges again, without a limit (it was spent before), what ended descendants spent
    /// (`usage`: their recorded usage), to this budget and every ancestor's, not to this
    /// process's own charges: for a process resumed after its children ended.
    pub(crate) fn carry(&self, usage: &Usage) {
        let amounts = [
            usage.tool_calls,
            usage.fuel,
            usage.bytes_written,
            usage.objects,
            usage.children,
        ];
        for (i, amount) in amounts.into_iter().enumerate() {
            if amount == 0 {
                continue;
            }
            let mut level = Some(self);
            while let Some(budget) = level {
                let _ = budget.spent[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                    Some(s.saturating_add(amount))
                });
                level = budget.parent.as_deref();
            }
        }
    }

    /// Charges fuel burnt, even past the limit (it is already spent); `Err` if the budget
    /// of this process or an ancestor is now exhausted.
    pub(crate) fn burn(&self, fuel: u64) -> Result<(), LimitKind> {
        let i = 1;
        let mut exhausted = false;
        let mut level = Some(self);
        while let Some(budget) = level {
            let now = budget.spent[i]
                .fetch_add(fuel, Ordering::AcqRel)
                .saturating_add(fuel);
            exhausted |= now > budget.limit[i];
            level = budget.parent.as_deref();
        }
        if exhausted {
            Err(LimitKind::Fuel)
        } else {
            Ok(())
        }
    }

    /// What this process and its descendants spent so far.
    pub(crate) fn usage(&self) -> Usage {
        let get = |i: usize| self.spent[i].load(Ordering::Acquire);
        Usage {
            tool_calls: get(0),
            fuel: get(1),
            bytes_written: get(2),
            objects: get(3),
            children: get(4),
        }
    }
}

impl Meter for Budget {
    fn charge(&self, kind: LimitKind, amount: u64) -> Result<(), LimitKind> {
        Budget::charge(self, kind, amount)
    }

    /// True when this process or an ancestor has a budget for `kind`.
    fn bounds(&self, kind: LimitKind) -> bool {
        let Some(i) = slot(kind) else {
            return false;
        };
        let mut level = Some(self);
        while let Some(budget) = level {
            if budget.limit[i] != u64::MAX {
                return true;
            }
            level = budget.parent.as_deref();
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(tool_calls: Option<u64>, parent: Option<Arc<Budget>>) -> Arc<Budget> {
        let image = ImageBudget {
            tool_calls,
            ..ImageBudget::default()
        };
        Budget::new(&image, parent)
    }

    #[test]
    fn a_child_spends_at_most_what_its_ancestors_have_left() {
        let root = budget(Some(5), None);
        let child = budget(Some(10), Some(Arc::clone(&root)));
        let grandchild = budget(None, Some(Arc::clone(&child)));
        assert_eq!(root.charge(LimitKind::ToolCalls, 2), Ok(()));
        assert_eq!(grandchild.charge(LimitKind::ToolCalls, 3), Ok(()));
        // The root has nothing left: every level refuses, and nothing was charged.
        assert_eq!(
            grandchild.charge(LimitKind::ToolCalls, 1),
            Err(LimitKind::ToolCalls)
        );
        assert_eq!(
            child.charge(LimitKind::ToolCalls, 1),
            Err(LimitKind::ToolCalls)
        );
        assert_eq!(root.usage().tool_calls, 5);
        assert_eq!(child.usage().tool_calls, 3);
        assert_eq!(grandchild.usage().tool_calls, 3);
        grandchild.refund(LimitKind::ToolCalls, 1);
        assert_eq!(root.usage().tool_calls, 4);
        assert_eq!(child.charge(LimitKind::ToolCalls, 1), Ok(()));
    }

    #[test]
    fn a_budget_bounds_a_kind_when_it_or_an_ancestor_limits_it() {
        let free = budget(None, None);
        assert!(!Meter::bounds(&*free, LimitKind::BytesWritten));
        let limited = Budget::new(
            &ImageBudget {
                bytes_written: Some(1 << 20),
                ..ImageBudget::default()
            },
            None,
        );
        let under = budget(None, Some(Arc::clone(&limited)));
        assert!(Meter::bounds(&*under, LimitKind::BytesWritten));
        assert!(!Meter::bounds(&*under, LimitKind::ToolCalls));
        assert!(
            !Meter::bounds(&*under, LimitKind::Memory),
            "not a budget kind"
        );
    }

    #[test]
    fn fuel_burnt_past_a_limit_is_recorded_and_reported() {
        let image = ImageBudget {
            fuel: Some(100),
            ..ImageBudget::default()
        };
        let root = Budget::new(&image, None);
        let child = Budget::new(&ImageBudget::default(), Some(Arc::clone(&root)));
        assert_eq!(child.burn(60), Ok(()));
        assert_eq!(child.burn(60), Err(LimitKind::Fuel));
        assert_eq!(root.usage().fuel, 120);
        assert_eq!(child.charge(LimitKind::BytesWritten, u64::MAX), Ok(()));
        assert_eq!(
            child.charge(LimitKind::BytesWritten, 1),
            Err(LimitKind::BytesWritten)
        );
    }
}
