//! Injected failures: an exact, deterministic share of `/hello` answers with the failure status.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Decides which requests fail. Request `k` (0-based, in the order they are served) fails iff
/// `floor((k+1)·ratio) > floor(k·ratio)`, so any first `n` requests hold exactly
/// `floor(n·ratio)` failures, spread evenly — a test can assert exact counts.
#[derive(Debug)]
pub struct FailPlan {
    ratio: f64,
    next: AtomicU64,
}

impl FailPlan {
    /// `ratio` is in `0.0..=1.0`; the flag parser has checked it.
    pub fn new(ratio: f64) -> FailPlan {
        FailPlan {
            ratio,
            next: AtomicU64::new(0),
        }
    }

    /// Takes the next request number and says whether that request fails.
    pub fn next_fails(&self) -> bool {
        if self.ratio == 0.0 {
            // Skip the shared counter entirely when failures are off: it is the common case.
            return false;
        }
        let k = self.next.fetch_add(1, Relaxed) as f64;
        ((k + 1.0) * self.ratio).floor() > (k * self.ratio).floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(ratio: f64, requests: usize) -> usize {
        let plan = FailPlan::new(ratio);
        (0..requests).filter(|_| plan.next_fails()).count()
    }

    #[test]
    fn exact_shares() {
        assert_eq!(failures(0.0, 100), 0);
        assert_eq!(failures(0.25, 100), 25);
        assert_eq!(failures(1.0 / 3.0, 100), 33);
        assert_eq!(failures(1.0 / 3.0, 300), 100);
        assert_eq!(failures(1.0, 100), 100);
    }

    #[test]
    fn failures_are_spread_not_bunched() {
        let plan = FailPlan::new(0.25);
        let pattern: Vec<bool> = (0..8).map(|_| plan.next_fails()).collect();
        assert_eq!(
            pattern,
            [false, false, false, true, false, false, false, true]
        );
    }
}
