//! Many workers' cumulative snapshots turned into one swarm's numbers. Each worker prints what
//! it measured since its start; the difference to its previous snapshot is what happened in
//! between, and that difference goes into an ordinary [`Collector`] — so totals are exact sums
//! of exact histograms, and the live view, history and report work as for a local swarm.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::swarm::Collector;
use crate::swarm::stats::{FailureTally, RequestStats, StatsBatch, Totals};
use crate::swarm::wire::{self, WIRE_VERSION, WireBatch};

/// What one worker sent last.
#[derive(Default)]
struct WorkerSlot {
    /// Its newest snapshot, rebuilt on the coordinator's clock.
    cumulative: Option<StatsBatch>,
    started_unix: f64,
    elapsed_s: f64,
    done: bool,
}

/// Merges snapshots from `workers` workers into one collector.
pub struct Merger {
    workers: Vec<WorkerSlot>,
    request_count: usize,
    open_model: bool,
    /// The coordinator's `Instant` for the Unix time beside it.
    clock: (Instant, f64),
    collector: Option<Collector>,
}

impl Merger {
    pub fn new(workers: usize, request_count: usize, open_model: bool) -> Merger {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        Merger {
            workers: (0..workers).map(|_| WorkerSlot::default()).collect(),
            request_count,
            open_model,
            clock: (Instant::now(), unix),
            collector: None,
        }
    }

    /// Takes worker `index`'s snapshot; an older or repeated one (a re-read log) is ignored.
    /// Returns whether it changed anything.
    pub fn offer(&mut self, index: usize, snapshot: &WireBatch) -> bool {
        if snapshot.version != WIRE_VERSION {
            return false;
        }
        let Some(slot) = self.workers.get(index) else {
            return false;
        };
        // A final snapshot always counts once: its elapsed time is the swarm's stop, which may
        // be a moment before the last periodic snapshot was taken.
        let stale = slot.cumulative.is_some()
            && (slot.done || (!snapshot.done && snapshot.elapsed_s <= slot.elapsed_s));
        if stale {
            return false;
        }
        let (base, base_unix) = self.clock;
        let current = wire::from_wire(snapshot, base, base_unix);
        let mut change = match &slot.cumulative {
            Some(previous) => difference(&current, previous),
            None => current.clone_counts(),
        };
        change.users = snapshot.users;
        let workers = self.workers.len();
        let request_count = self.request_count.max(current.requests.len());
        let open_model = self.open_model;
        let collector = self.collector.get_or_insert_with(|| {
            // The first worker to report starts the clock; the others start within moments.
            let started = at(base, base_unix, snapshot.started_unix);
            Collector::new(started, workers, request_count, open_model)
        });
        collector.absorb(index, &change);
        let slot = &mut self.workers[index];
        slot.cumulative = Some(current);
        slot.started_unix = snapshot.started_unix;
        slot.elapsed_s = slot.elapsed_s.max(snapshot.elapsed_s);
        slot.done = snapshot.done;
        true
    }

    /// A tick of the live view and history (once a second).
    pub fn sample(&mut self, now: Instant) {
        if let Some(collector) = &mut self.collector {
            collector.sample(now);
        }
    }

    pub fn collector(&self) -> Option<&Collector> {
        self.collector.as_ref()
    }

    /// Workers that have sent their final snapshot.
    pub fn done(&self, index: usize) -> bool {
        self.workers.get(index).is_some_and(|slot| slot.done)
    }

    /// Workers that sent anything at all.
    pub fn heard_from(&self, index: usize) -> bool {
        self.workers
            .get(index)
            .is_some_and(|slot| slot.cumulative.is_some())
    }

    /// How far worker `index` got: seconds from its start to its last snapshot.
    pub fn reached_s(&self, index: usize) -> Option<f64> {
        let slot = self.workers.get(index)?;
        slot.cumulative.as_ref().map(|_| slot.elapsed_s)
    }

    /// The merged collector and the swarm's duration: from the earliest worker start to the
    /// latest worker end. `None` when no worker sent anything.
    pub fn finish(self) -> Option<(Collector, Duration)> {
        let heard: Vec<&WorkerSlot> = self
            .workers
            .iter()
            .filter(|slot| slot.cumulative.is_some())
            .collect();
        let first_start = heard
            .iter()
            .map(|slot| slot.started_unix)
            .reduce(f64::min)?;
        let last_end = heard
            .iter()
            .map(|slot| slot.started_unix + slot.elapsed_s)
            .reduce(f64::max)?;
        let elapsed = Duration::try_from_secs_f64((last_end - first_start).max(0.0))
            .unwrap_or(Duration::ZERO);
        self.collector.map(|collector| (collector, elapsed))
    }
}

/// The coordinator's `Instant` for the Unix time `unix`.
fn at(base: Instant, base_unix: f64, unix: f64) -> Instant {
    let offset = unix - base_unix;
    match Duration::try_from_secs_f64(offset.abs()) {
        Ok(distance) if offset >= 0.0 => base + distance,
        Ok(distance) => base.checked_sub(distance).unwrap_or(base),
        Err(_) => base,
    }
}

/// What `current` holds beyond `previous`, both cumulative from one worker. Minimum and
/// maximum stay cumulative: merged into a total they give the same extremes.
fn difference(current: &StatsBatch, previous: &StatsBatch) -> StatsBatch {
    let mut change = StatsBatch::new(0, false);
    change.requests = current
        .requests
        .iter()
        .enumerate()
        .map(|(index, now)| match previous.requests.get(index) {
            Some(before) => request_difference(now, before),
            None => now.clone(),
        })
        .collect();
    for (key, tally) in &current.failures {
        let before = previous.failures.get(key).map_or(0, |t| t.count);
        if tally.count > before {
            change.failures.insert(
                key.clone(),
                FailureTally {
                    count: tally.count - before,
                    ..*tally
                },
            );
        }
    }
    change.late_starts = current.late_starts.saturating_sub(previous.late_starts);
    change.not_started = current.not_started.saturating_sub(previous.not_started);
    change
}

fn request_difference(now: &RequestStats, before: &RequestStats) -> RequestStats {
    let minus = |mut later: hdrhistogram::Histogram<u64>,
                 earlier: &hdrhistogram::Histogram<u64>| {
        // A later cumulative histogram holds every count of an earlier one.
        let _ = later.subtract(earlier);
        later
    };
    let latency = minus(now.latency.clone(), &before.latency);
    let service_time = match (&now.service_time, &before.service_time) {
        (Some(later), Some(earlier)) => Some(minus(later.clone(), earlier)),
        (later, _) => later.clone(),
    };
    let (now_totals, before_totals) = (now.totals(), before.totals());
    RequestStats::from_parts(
        latency,
        service_time,
        Totals {
            requests: now_totals.requests.saturating_sub(before_totals.requests),
            failures: now_totals.failures.saturating_sub(before_totals.failures),
            content_bytes: now_totals
                .content_bytes
                .saturating_sub(before_totals.content_bytes),
            latency_sum_us: now_totals
                .latency_sum_us
                .saturating_sub(before_totals.latency_sum_us),
            min_us: now_totals.min_us,
            max_us: now_totals.max_us,
        },
    )
}

trait CloneCounts {
    fn clone_counts(&self) -> StatsBatch;
}

impl CloneCounts for StatsBatch {
    /// `StatsBatch` is not `Clone` (batches move between threads, never copy); a snapshot's
    /// first difference is the whole of it.
    fn clone_counts(&self) -> StatsBatch {
        let mut copy = StatsBatch::new(0, false);
        copy.requests = self.requests.clone();
        copy.failures = self.failures.clone();
        copy.late_starts = self.late_starts;
        copy.not_started = self.not_started;
        copy.users = self.users;
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::failure::FailureCause;
    use crate::swarm::wire::to_wire;

    /// A worker that has recorded `requests` requests of `latency_ms` each, `failures` of them
    /// refused, as its snapshot at `elapsed_s`.
    fn snapshot(
        recorded: &mut StatsBatch,
        requests: u64,
        latency_ms: u64,
        failures: u64,
        elapsed_s: f64,
        started: Instant,
    ) -> WireBatch {
        for n in 0..requests {
            let ok = n >= failures;
            recorded.requests[0].record(Duration::from_millis(latency_ms), None, 2, ok);
            if !ok {
                recorded.record_failure(0, FailureCause::ConnectionRefused);
            }
        }
        to_wire(
            recorded,
            5,
            started,
            1.7e9,
            Duration::from_secs_f64(elapsed_s),
        )
    }

    #[test]
    fn snapshots_of_several_workers_merge_exactly() {
        let started = Instant::now();
        let mut merger = Merger::new(2, 1, false);
        let (mut a, mut b) = (StatsBatch::new(1, false), StatsBatch::new(1, false));
        assert!(merger.offer(0, &snapshot(&mut a, 100, 10, 0, 2.0, started)));
        assert!(merger.offer(1, &snapshot(&mut b, 50, 40, 5, 2.0, started)));
        let second = snapshot(&mut a, 300, 20, 0, 4.0, started);
        assert!(merger.offer(0, &second));
        // A log read twice offers the same snapshot again: nothing is counted twice.
        assert!(!merger.offer(0, &second));
        assert!(merger.offer(1, &snapshot(&mut b, 0, 40, 0, 4.6, started)));
        // The final snapshot's time is the stop, a moment before the last periodic one.
        let mut last = snapshot(&mut b, 10, 40, 0, 4.5, started);
        last.done = true;
        assert!(merger.offer(1, &last));
        assert!(merger.done(1) && !merger.done(0));

        let (collector, elapsed) = merger.finish().unwrap();
        let total = collector.aggregated();
        assert_eq!(total.requests, 460);
        assert_eq!(total.failures, 5);
        assert_eq!(total.latency.len(), 460);
        assert_eq!(
            collector
                .total
                .failures
                .values()
                .map(|t| t.count)
                .sum::<u64>(),
            5
        );
        // Exact: the merged histogram is the one a single process would have recorded.
        let mut expected = StatsBatch::new(1, false);
        expected.merge(&a);
        expected.merge(&b);
        let expected = expected.aggregated();
        for quantile in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(
                total.latency.value_at_quantile(quantile),
                expected.latency.value_at_quantile(quantile)
            );
        }
        assert_eq!(total.average_ms(), expected.average_ms());
        assert_eq!((total.min_ms(), total.max_ms()), (10.0, 40.0));
        // Unix seconds near 1.7e9 keep microseconds, not nanoseconds.
        assert!((elapsed.as_secs_f64() - 4.6).abs() < 1e-5, "{elapsed:?}");
        assert_eq!(collector.users(), 10);
    }

    #[test]
    fn a_worker_that_never_reported_leaves_nothing() {
        assert!(Merger::new(3, 1, false).finish().is_none());
        let mut merger = Merger::new(1, 1, false);
        let mut wrong = snapshot(&mut StatsBatch::new(1, false), 1, 1, 0, 1.0, Instant::now());
        wrong.version += 1;
        assert!(!merger.offer(0, &wrong));
        assert!(!merger.offer(7, &wrong));
    }
}
