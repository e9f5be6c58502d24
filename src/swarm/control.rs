//! What all worker threads share while a swarm runs: the start instant, the stop signal and
//! the iteration budget. Read on every request, so reads are single atomic loads.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Why a swarm ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    RunTime,
    Iterations,
    Interrupted,
}

pub struct Control {
    pub start: Instant,
    stopping: AtomicBool,
    stop_signal: watch::Sender<bool>,
    stopped_at: OnceLock<(Instant, EndReason)>,
    /// Remaining iterations; `None` when unbounded.
    iterations_left: Option<AtomicI64>,
}

impl Control {
    pub fn new(iterations: Option<u64>) -> Control {
        Control {
            start: Instant::now(),
            stopping: AtomicBool::new(false),
            stop_signal: watch::channel(false).0,
            stopped_at: OnceLock::new(),
            iterations_left: iterations
                .map(|n| AtomicI64::new(i64::try_from(n).unwrap_or(i64::MAX))),
        }
    }

    /// Asks every user to stop; the first reason given is the one that counts.
    pub fn stop(&self, reason: EndReason) {
        if self.stopped_at.set((Instant::now(), reason)).is_ok() {
            self.stopping.store(true, Ordering::Release);
            self.stop_signal.send_replace(true);
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// A receiver that changes when the swarm stops, to cut waits short.
    pub fn stop_receiver(&self) -> watch::Receiver<bool> {
        self.stop_signal.subscribe()
    }

    pub fn end(&self) -> Option<(Instant, EndReason)> {
        self.stopped_at.get().copied()
    }

    /// Time since start at which the stop was asked for.
    pub fn stopped_after(&self) -> Option<Duration> {
        self.end().map(|(at, _)| at.duration_since(self.start))
    }

    /// Claims one task iteration; false when the budget is spent.
    pub fn take_iteration(&self) -> bool {
        match &self.iterations_left {
            None => true,
            Some(left) => left.fetch_sub(1, Ordering::Relaxed) > 0,
        }
    }

    pub fn iterations_spent(&self) -> bool {
        self.iterations_left
            .as_ref()
            .is_some_and(|left| left.load(Ordering::Relaxed) <= 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_budget_is_exact() {
        let control = Control::new(Some(3));
        let taken = (0..10).filter(|_| control.take_iteration()).count();
        assert_eq!(taken, 3);
        assert!(control.iterations_spent());
        assert!(Control::new(None).take_iteration());
    }

    #[test]
    fn first_stop_reason_wins() {
        let control = Control::new(None);
        let receiver = control.stop_receiver();
        assert!(!control.is_stopping());
        control.stop(EndReason::Interrupted);
        control.stop(EndReason::RunTime);
        assert!(control.is_stopping());
        assert!(*receiver.borrow());
        assert_eq!(
            control.end().map(|(_, reason)| reason),
            Some(EndReason::Interrupted)
        );
    }
}
