//! [`LogQuota`]: how much a process may store in its log over its life.

/// The bytes of log lines a process may still store (`[limits] max_log_bytes` of its image,
/// kept across `exec`: a new image does not refill it). Lines past it are dropped before they
/// reach the database, with one note saying so, so a process logging in a loop costs the
/// store nothing once it is spent. Not an audit matter: the `log.write` decision is recorded
/// once per instance; the lines are the process log.
/// How the note of a drop starts.
const DROP_NOTE: &str = "[log limit of ";

#[derive(Debug, Clone, Copy)]
pub(crate) struct LogQuota {
    cap: u64,
    used: u64,
    /// Bytes dropped past the cap so far.
    dropped: u64,
}

impl LogQuota {
    /// A quota of `cap` bytes, none used.
    pub(crate) fn new(cap: u64) -> Self {
        LogQuota {
            cap,
            used: 0,
            dropped: 0,
        }
    }

    /// The quota of a process resumed on another host, whose log already holds `stored`:
    /// its lines count against `cap` (stdout and stderr aside, which are not counted), and
    /// once the note of a drop is there nothing more is kept.
    pub(crate) fn resumed(cap: u64, stored: &[libos_proctable::LogRecord]) -> Self {
        let mut quota = LogQuota::new(cap);
        for line in stored {
            if line.level == "stdout" || line.level == "stderr" {
                continue;
            }
            if line.message.starts_with(DROP_NOTE) {
                quota.dropped = quota.dropped.max(1);
            } else {
                quota.used = quota.used.saturating_add(line.message.len() as u64);
            }
        }
        quota
    }

    /// Whether lines were dropped: nothing more is kept.
    pub(crate) fn spent(&self) -> bool {
        self.dropped > 0
    }

    /// Keeps, in order, the messages of `lines` that fit in what is left (a message that does
    /// not fit ends the keeping: no later, shorter one is kept out of order). Returns the note
    /// to store after them the first time anything is dropped.
    pub(crate) fn admit(&mut self, lines: &mut Vec<(&str, &str)>) -> Option<String> {
        let mut kept = 0;
        for (_, message) in lines.iter() {
            let len = message.len() as u64;
            if self.dropped > 0 || self.used.saturating_add(len) > self.cap {
                break;
            }
            self.used += len;
            kept += 1;
        }
        let first_drop = self.dropped == 0;
        let dropped: u64 = lines[kept..].iter().map(|(_, m)| m.len() as u64).sum();
        lines.truncate(kept);
        if dropped == 0 {
            return None;
        }
        // Count at least one byte, so that an empty message past the cap still ends keeping.
        self.dropped = self.dropped.saturating_add(dropped.max(1));
        first_drop.then(|| {
            format!(
                "{DROP_NOTE}{} bytes reached (max_log_bytes): later lines are dropped]",
                self.cap
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LogQuota;

    #[test]
    fn keeps_lines_up_to_the_cap_then_notes_once_and_drops_the_rest() {
        let mut quota = LogQuota::new(10);
        let mut first = vec![("info", "12345"), ("info", "1234")];
        assert_eq!(quota.admit(&mut first), None);
        assert_eq!(first.len(), 2);
        let mut second = vec![("info", "12"), ("info", "1")];
        let note = quota.admit(&mut second).expect("a note the first time");
        assert!(note.contains("10 bytes"), "{note}");
        assert!(
            second.is_empty(),
            "a line that does not fit ends the keeping"
        );
        let mut third = vec![("info", "")];
        assert_eq!(quota.admit(&mut third), None, "noted once");
        assert!(third.is_empty(), "nothing is kept once lines were dropped");
    }
}
