//! A token bucket: how often a process may do something (emit an event), on average.

use std::time::Instant;

/// Allows `per_second` actions per second on average and up to `per_second` at once after
/// a pause; 0 allows none.
#[derive(Debug)]
pub(crate) struct Rate {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl Rate {
    /// A full bucket.
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second);
        Rate {
            per_second,
            tokens: per_second,
            last: Instant::now(),
        }
    }

    /// Takes one action's token; `false` (nothing taken) if the rate is spent for now.
    pub(crate) fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rate;

    #[test]
    fn a_burst_is_allowed_up_to_the_rate_then_refused() {
        let mut rate = Rate::new(5);
        assert_eq!((0..10).filter(|_| rate.take()).count(), 5);
        assert!(!Rate::new(0).take(), "0 allows nothing");
    }

    #[test]
    fn the_bucket_refills_with_time() {
        let mut rate = Rate::new(1000);
        while rate.take() {}
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(rate.take(), "20 ms refill about 20 tokens");
    }
}
