//! The ends of the processes this host ran most recently, for `wait` after the end.
//!
//! An ended process leaves the running map; its end is in the table, but reading it there
//! first commits whatever the table has queued (see `libos_proctable::ProcessTable`), a commit
//! on the path of a parent that waits for a child that has already ended. The newest ends
//! are kept here instead, bounded in number and in size.

use std::collections::{HashMap, VecDeque};

use crate::status::ExitStatus;

/// How many ends are kept.
const KEPT: usize = 1024;
/// Ends whose output or reason is longer than this are left to the table.
const MAX_DETAIL: usize = 4096;

/// The newest ends, oldest first out.
#[derive(Default)]
pub(crate) struct RecentExits {
    order: VecDeque<u64>,
    status: HashMap<u64, ExitStatus>,
}

impl RecentExits {
    /// Keeps the end of `pid` (unless its detail is too long to keep).
    pub(crate) fn record(&mut self, pid: u64, status: &ExitStatus) {
        let detail = match status {
            ExitStatus::Exited(text) | ExitStatus::Failed(text) => text.len(),
            ExitStatus::Killed => 0,
        };
        if detail > MAX_DETAIL {
            return;
        }
        if self.status.insert(pid, status.clone()).is_none() {
            self.order.push_back(pid);
        }
        while self.order.len() > KEPT {
            if let Some(old) = self.order.pop_front() {
                self.status.remove(&old);
            }
        }
    }

    /// The end of `pid`, if kept.
    pub(crate) fn get(&self, pid: u64) -> Option<ExitStatus> {
        self.status.get(&pid).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_short_ends() {
        let mut recent = RecentExits::default();
        for pid in 0..(KEPT as u64 + 10) {
            recent.record(pid, &ExitStatus::Exited(pid.to_string()));
        }
        assert_eq!(recent.get(0), None, "the oldest were dropped");
        assert_eq!(
            recent.get(KEPT as u64 + 9),
            Some(ExitStatus::Exited((KEPT + 9).to_string()))
        );
        recent.record(1, &ExitStatus::Failed("x".repeat(MAX_DETAIL + 1)));
        assert_eq!(recent.get(1), None, "too long: left to the table");
        assert_eq!(recent.status.len(), recent.order.len());
    }
}
