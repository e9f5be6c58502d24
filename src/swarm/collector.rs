//! The one place where the workers' numbers meet: batches are merged into running totals, and
//! once a tick a sample is taken for the "current" figures (Locust's last-10-seconds window)
//! and for the history.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use super::stats::{RequestStats, StatsBatch, new_histogram, quantile_ms};

/// Locust computes current response-time percentiles and rates over the last ten seconds.
const WINDOW: Duration = Duration::from_secs(10);

/// The percentiles Locust's tables and CSV files show, as quantiles.
pub const PERCENTILES: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

struct Sample {
    at: Instant,
    requests: Vec<u64>,
    failures: Vec<u64>,
    /// All latencies recorded between the previous sample and this one.
    latency: Histogram<u64>,
}

/// One line of the stats history, for the aggregated row, as Locust writes it each second.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    pub elapsed_s: f64,
    pub users: u64,
    pub current_rps: f64,
    pub current_fail_per_s: f64,
    /// Response-time percentiles over the last ten seconds, in ms, in `PERCENTILES` order.
    pub current_percentiles_ms: Vec<f64>,
    pub total_requests: u64,
    pub total_failures: u64,
    pub total_median_ms: f64,
    pub total_average_ms: f64,
    pub total_min_ms: f64,
    pub total_max_ms: f64,
    pub total_average_content_size: f64,
}

pub struct Collector {
    pub started: Instant,
    pub started_wall: SystemTime,
    pub total: StatsBatch,
    users_by_worker: Vec<u64>,
    pub peak_users: u64,
    since_sample: Histogram<u64>,
    samples: VecDeque<Sample>,
    pub history: Vec<HistoryRow>,
}

impl Collector {
    pub fn new(
        started: Instant,
        workers: usize,
        request_count: usize,
        open_model: bool,
    ) -> Collector {
        Collector {
            started,
            started_wall: SystemTime::now() - started.elapsed(),
            total: StatsBatch::new(request_count, open_model),
            users_by_worker: vec![0; workers],
            peak_users: 0,
            since_sample: new_histogram(),
            samples: VecDeque::new(),
            history: Vec::new(),
        }
    }

    pub fn absorb(&mut self, worker: usize, batch: &StatsBatch) {
        self.total.merge(batch);
        for stats in &batch.requests {
            self.since_sample
                .add(&stats.latency)
                .expect("auto-resizing histograms merge");
        }
        if let Some(users) = self.users_by_worker.get_mut(worker) {
            *users = batch.users;
        }
        self.peak_users = self.peak_users.max(self.users());
    }

    pub fn users(&self) -> u64 {
        self.users_by_worker.iter().sum()
    }

    /// Takes a sample at `now` and appends the history row it gives.
    pub fn sample(&mut self, now: Instant) {
        let latency = std::mem::replace(&mut self.since_sample, new_histogram());
        self.samples.push_back(Sample {
            at: now,
            requests: self.total.requests.iter().map(|r| r.requests).collect(),
            failures: self.total.requests.iter().map(|r| r.failures).collect(),
            latency,
        });
        while self.samples.len() > 1 && now.duration_since(self.samples[1].at) >= WINDOW {
            self.samples.pop_front();
        }
        let total = self.total.aggregated();
        let window = self.window_latency();
        let (rps, fps) = self.current_rates(None);
        self.history.push(HistoryRow {
            timestamp: (self.started_wall + now.duration_since(self.started))
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            elapsed_s: now.duration_since(self.started).as_secs_f64(),
            users: self.users(),
            current_rps: rps,
            current_fail_per_s: fps,
            current_percentiles_ms: PERCENTILES
                .iter()
                .map(|&q| quantile_ms(&window, q))
                .collect(),
            total_requests: total.requests,
            total_failures: total.failures,
            total_median_ms: total.percentile_ms(0.5),
            total_average_ms: total.average_ms(),
            total_min_ms: total.min_ms(),
            total_max_ms: total.max_ms(),
            total_average_content_size: total.average_content_size(),
        });
    }

    /// Latencies recorded over the current window (all requests together).
    pub fn window_latency(&self) -> Histogram<u64> {
        let mut window = new_histogram();
        // The oldest sample is the window's left edge; its own interval lies before it.
        for sample in self
            .samples
            .iter()
            .skip(usize::from(self.samples.len() > 1))
        {
            window
                .add(&sample.latency)
                .expect("auto-resizing histograms merge");
        }
        window
    }

    /// Requests and failures per second over the window, for one request or all (`None`).
    pub fn current_rates(&self, request: Option<usize>) -> (f64, f64) {
        let pick = |counts: &[u64]| match request {
            Some(index) => counts[index],
            None => counts.iter().sum(),
        };
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return (0.0, 0.0);
        };
        let (start_at, start_requests, start_failures) = if self.samples.len() == 1 {
            (self.started, 0, 0)
        } else {
            (first.at, pick(&first.requests), pick(&first.failures))
        };
        let seconds = last.at.duration_since(start_at).as_secs_f64();
        if seconds <= 0.0 {
            return (0.0, 0.0);
        }
        (
            (pick(&last.requests) - start_requests) as f64 / seconds,
            (pick(&last.failures) - start_failures) as f64 / seconds,
        )
    }

    pub fn aggregated(&self) -> RequestStats {
        self.total.aggregated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_with(requests: u64, failures: u64, latency_ms: u64, users: u64) -> StatsBatch {
        let mut batch = StatsBatch::new(1, false);
        for n in 0..requests {
            batch.requests[0].record(Duration::from_millis(latency_ms), None, 0, n >= failures);
        }
        batch.users = users;
        batch
    }

    #[test]
    fn current_rate_covers_the_window_only() {
        let start = Instant::now();
        let mut collector = Collector::new(start, 2, 1, false);
        // 20 seconds at 100 requests/s, then 10 seconds at 10 requests/s.
        for second in 1..=30u64 {
            let per_second = if second <= 20 { 100 } else { 10 };
            collector.absorb(
                0,
                &batch_with(per_second, 0, if second <= 20 { 5 } else { 50 }, 3),
            );
            collector.sample(start + Duration::from_secs(second));
        }
        let (rps, fps) = collector.current_rates(None);
        assert!((rps - 10.0).abs() < 1e-9, "{rps}");
        assert_eq!(fps, 0.0);
        // The window holds only the slow second half.
        let median = quantile_ms(&collector.window_latency(), 0.5);
        assert!((median - 50.0).abs() <= 0.05, "{median}");
        assert_eq!(collector.total.requests[0].requests, 2100);
        assert_eq!(collector.history.len(), 30);
        assert_eq!(collector.history[29].total_requests, 2100);
    }

    #[test]
    fn users_sum_over_workers_and_peak_is_kept() {
        let start = Instant::now();
        let mut collector = Collector::new(start, 2, 1, false);
        collector.absorb(0, &batch_with(0, 0, 1, 5));
        collector.absorb(1, &batch_with(0, 0, 1, 4));
        assert_eq!(collector.users(), 9);
        collector.absorb(0, &batch_with(0, 0, 1, 0));
        assert_eq!(collector.users(), 4);
        assert_eq!(collector.peak_users, 9);
    }

    #[test]
    fn first_sample_rates_count_from_start() {
        let start = Instant::now();
        let mut collector = Collector::new(start, 1, 1, false);
        collector.absorb(0, &batch_with(50, 5, 2, 1));
        collector.sample(start + Duration::from_millis(500));
        let (rps, fps) = collector.current_rates(Some(0));
        assert_eq!((rps, fps), (100.0, 10.0));
    }
}
