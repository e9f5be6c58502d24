//! The capacity model of `/hello`: at most `concurrency` requests in service at once, each holding
//! its slot for `work_time` on a timer (not the CPU), the rest waiting in a bounded FIFO queue.
//!
//! So capacity is `concurrency / work_time` requests per second whatever the machine, and load past
//! it shows up as queueing latency and then as 503s — what a "slam" must be able to show.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests in service at once; 0 means unlimited (no gate at all).
    pub concurrency: usize,
    pub work_time: Duration,
    /// Requests allowed to wait for a slot; one more is rejected at once.
    pub max_queue: usize,
}

/// The queue was full; the request must be answered 503 right away.
#[derive(Debug, thiserror::Error)]
#[error("the queue is full")]
pub struct Rejected;

pub struct Capacity {
    limits: Limits,
    /// Tokio's semaphore is fair: a freed permit goes to the longest waiter, so this is the FIFO.
    slots: Option<Semaphore>,
    in_flight: AtomicUsize,
    queued: AtomicUsize,
    rejected: AtomicU64,
}

impl Capacity {
    pub fn new(limits: Limits) -> Capacity {
        Capacity {
            limits,
            slots: (limits.concurrency > 0).then(|| Semaphore::new(limits.concurrency)),
            in_flight: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Waits for a service slot. Dropping the returned future (the client went away) leaves the
    /// queue and the gauges as they were.
    pub async fn admit(&self) -> Result<Slot<'_>, Rejected> {
        self.in_flight.fetch_add(1, Relaxed);
        let mut slot = Slot {
            capacity: self,
            _permit: None,
        };
        let Some(slots) = &self.slots else {
            return Ok(slot);
        };
        if let Ok(permit) = slots.try_acquire() {
            slot._permit = Some(permit);
            return Ok(slot);
        }
        if self.queued.fetch_add(1, Relaxed) >= self.limits.max_queue {
            self.queued.fetch_sub(1, Relaxed);
            self.rejected.fetch_add(1, Relaxed);
            return Err(Rejected);
        }
        let waiting = Waiting(&self.queued);
        let permit = slots.acquire().await.expect("the slots are never closed");
        drop(waiting);
        slot._permit = Some(permit);
        Ok(slot)
    }

    /// Requests admitted and not yet answered (in service plus queued).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Relaxed)
    }

    pub fn rejected(&self) -> u64 {
        self.rejected.load(Relaxed)
    }
}

/// A request in service; the slot frees when this drops.
pub struct Slot<'a> {
    capacity: &'a Capacity,
    _permit: Option<SemaphorePermit<'a>>,
}

impl Slot<'_> {
    /// Holds the slot for the work time, then frees it.
    pub async fn work(self) {
        let work_time = self.capacity.limits.work_time;
        if !work_time.is_zero() {
            tokio::time::sleep(work_time).await;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.capacity.in_flight.fetch_sub(1, Relaxed);
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(concurrency: usize, max_queue: usize) -> Limits {
        Limits {
            concurrency,
            work_time: Duration::ZERO,
            max_queue,
        }
    }

    #[tokio::test]
    async fn unlimited_admits_everyone_and_counts_them() {
        let capacity = Capacity::new(limits(0, 0));
        let a = capacity.admit().await.unwrap();
        let b = capacity.admit().await.unwrap();
        assert_eq!((capacity.in_flight(), capacity.queued()), (2, 0));
        drop((a, b));
        assert_eq!(capacity.in_flight(), 0);
    }

    #[tokio::test]
    async fn full_queue_rejects_and_waiters_leave_cleanly() {
        let capacity = Capacity::new(limits(1, 1));
        let serving = capacity.admit().await.unwrap();

        let mut waiter = Box::pin(capacity.admit());
        assert!(poll_once(waiter.as_mut()).await.is_none());
        assert_eq!((capacity.in_flight(), capacity.queued()), (2, 1));

        assert!(
            capacity.admit().await.is_err(),
            "second waiter is over max_queue"
        );
        assert_eq!(capacity.rejected(), 1);
        assert_eq!((capacity.in_flight(), capacity.queued()), (2, 1));

        drop(serving);
        let next = waiter.await.unwrap();
        assert_eq!((capacity.in_flight(), capacity.queued()), (1, 0));
        drop(next);

        // A waiter whose client hangs up must not leave a ghost in the gauges.
        let serving = capacity.admit().await.unwrap();
        let mut abandoned = Box::pin(capacity.admit());
        assert!(poll_once(abandoned.as_mut()).await.is_none());
        drop(abandoned);
        drop(serving);
        assert_eq!((capacity.in_flight(), capacity.queued()), (0, 0));
    }

    /// Polls a future once and gives back its output if it was ready.
    async fn poll_once<F: Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
