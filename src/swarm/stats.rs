//! Statistics as Locust keeps them, recorded without sharing: each worker thread fills its own
//! `StatsBatch` and hands the whole batch over once a tick; the aggregator merges batches.
//! Latencies live in HDR histograms (microseconds), so merging is exact and percentiles keep
//! three significant digits whatever the spread.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::failure::FailureCause;

/// Three significant digits: 1 ms is told apart from 1.001 ms, 10 s from 10.01 s.
const SIGNIFICANT_DIGITS: u8 = 3;

pub fn new_histogram() -> Histogram<u64> {
    let mut histogram =
        Histogram::new(SIGNIFICANT_DIGITS).expect("three significant digits are valid");
    histogram.auto(true);
    histogram
}

/// Everything measured for one named request over some span of time.
#[derive(Debug, Clone)]
pub struct RequestStats {
    /// Response time in µs. In the open model: from the request's intended start.
    pub latency: Histogram<u64>,
    /// Open model only: from the moment the request was actually sent.
    pub service_time: Option<Histogram<u64>>,
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    latency_sum_us: u64,
    min_us: u64,
    max_us: u64,
}

impl RequestStats {
    pub fn new(open_model: bool) -> Self {
        RequestStats {
            latency: new_histogram(),
            service_time: open_model.then(new_histogram),
            requests: 0,
            failures: 0,
            content_bytes: 0,
            latency_sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }

    /// Records one finished request; `service_time` is given in the open model only.
    pub fn record(
        &mut self,
        latency: Duration,
        service_time: Option<Duration>,
        bytes: u64,
        ok: bool,
    ) {
        let micros = duration_micros(latency);
        // Saturating: an auto-resizing histogram only refuses values beyond u64 range.
        let _ = self.latency.record(micros);
        if let (Some(histogram), Some(service)) = (self.service_time.as_mut(), service_time) {
            let _ = histogram.record(duration_micros(service));
        }
        self.requests += 1;
        self.failures += u64::from(!ok);
        self.content_bytes += bytes;
        self.latency_sum_us += micros;
        self.min_us = self.min_us.min(micros);
        self.max_us = self.max_us.max(micros);
    }

    pub fn merge(&mut self, other: &RequestStats) {
        self.latency
            .add(&other.latency)
            .expect("auto-resizing histograms always merge");
        match (self.service_time.as_mut(), other.service_time.as_ref()) {
            (Some(mine), Some(theirs)) => mine.add(theirs).expect("auto-resizing histograms merge"),
            (None, Some(theirs)) => self.service_time = Some(theirs.clone()),
            _ => {}
        }
        self.requests += other.requests;
        self.failures += other.failures;
        self.content_bytes += other.content_bytes;
        self.latency_sum_us += other.latency_sum_us;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The exact counters a histogram cannot give back, for shipping stats to another process.
    pub fn totals(&self) -> Totals {
        Totals {
            requests: self.requests,
            failures: self.failures,
            content_bytes: self.content_bytes,
            latency_sum_us: self.latency_sum_us,
            min_us: self.min_us,
            max_us: self.max_us,
        }
    }

    /// Stats another process recorded, rebuilt from its histograms and exact counters.
    pub fn from_parts(
        latency: Histogram<u64>,
        service_time: Option<Histogram<u64>>,
        totals: Totals,
    ) -> Self {
        RequestStats {
            latency,
            service_time,
            requests: totals.requests,
            failures: totals.failures,
            content_bytes: totals.content_bytes,
            latency_sum_us: totals.latency_sum_us,
            min_us: totals.min_us,
            max_us: totals.max_us,
        }
    }

    /// Exact mean of the recorded latencies, in milliseconds.
    pub fn average_ms(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.latency_sum_us as f64 / self.requests as f64 / 1000.0
        }
    }

    pub fn min_ms(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.min_us as f64 / 1000.0
        }
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// Latency at `quantile` (0..=1) in milliseconds; 0 when nothing was recorded.
    pub fn percentile_ms(&self, quantile: f64) -> f64 {
        // HDR reports the top of a value's bucket; never beyond what was really seen.
        quantile_ms(&self.latency, quantile).min(self.max_ms())
    }

    pub fn average_content_size(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.content_bytes as f64 / self.requests as f64
        }
    }
}

/// A `RequestStats`' exact counters; `min_us` is `u64::MAX` while nothing was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    pub latency_sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
}

/// A histogram's value at `quantile`, in milliseconds. The exact maximum for 1.0, since HDR
/// would round it up to the top of its bucket.
pub fn quantile_ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    let micros = if quantile >= 1.0 {
        histogram.max()
    } else {
        histogram.value_at_quantile(quantile)
    };
    micros as f64 / 1000.0
}

fn duration_micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// How often a cause was seen, and when first and last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureTally {
    pub count: u64,
    pub first_seen: Instant,
    pub last_seen: Instant,
}

impl FailureTally {
    fn merge(&mut self, other: &FailureTally) {
        self.count += other.count;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// What one worker thread measured since its last hand-over.
#[derive(Debug)]
pub struct StatsBatch {
    /// One entry per scenario request, by index.
    pub requests: Vec<RequestStats>,
    /// Failures by request index and cause.
    pub failures: BTreeMap<(usize, FailureCause), FailureTally>,
    /// Open model: requests sent later than their intended start.
    pub late_starts: u64,
    /// Open model: requests whose intended start passed before the run ended, never sent.
    pub not_started: u64,
    /// Users alive on this thread at hand-over time.
    pub users: u64,
}

impl StatsBatch {
    pub fn new(request_count: usize, open_model: bool) -> Self {
        StatsBatch {
            requests: (0..request_count)
                .map(|_| RequestStats::new(open_model))
                .collect(),
            failures: BTreeMap::new(),
            late_starts: 0,
            not_started: 0,
            users: 0,
        }
    }

    pub fn record_failure(&mut self, request: usize, cause: FailureCause) {
        let now = Instant::now();
        self.failures
            .entry((request, cause))
            .and_modify(|tally| {
                tally.count += 1;
                tally.last_seen = now;
            })
            .or_insert(FailureTally {
                count: 1,
                first_seen: now,
                last_seen: now,
            });
    }

    /// Adds `other`'s counts to this batch; `users` is a gauge and is left to the caller.
    pub fn merge(&mut self, other: &StatsBatch) {
        for (mine, theirs) in self.requests.iter_mut().zip(&other.requests) {
            mine.merge(theirs);
        }
        for (key, tally) in &other.failures {
            self.failures
                .entry(key.clone())
                .and_modify(|mine| mine.merge(tally))
                .or_insert(*tally);
        }
        self.late_starts += other.late_starts;
        self.not_started += other.not_started;
    }

    /// All requests together: Locust's "Aggregated" row.
    pub fn aggregated(&self) -> RequestStats {
        let open_model = self.requests.iter().any(|r| r.service_time.is_some());
        let mut total = RequestStats::new(open_model);
        for stats in &self.requests {
            total.merge(stats);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut stats = RequestStats::new(false);
        for value in 1..=1000 {
            stats.record(ms(value), None, 10, true);
        }
        let within =
            |actual: f64, expected: f64| (actual - expected).abs() <= expected * 0.001 + 0.001;
        assert!(
            within(stats.percentile_ms(0.5), 500.0),
            "{}",
            stats.percentile_ms(0.5)
        );
        assert!(
            within(stats.percentile_ms(0.9), 900.0),
            "{}",
            stats.percentile_ms(0.9)
        );
        assert!(
            within(stats.percentile_ms(0.99), 990.0),
            "{}",
            stats.percentile_ms(0.99)
        );
        assert!(within(stats.percentile_ms(0.999), 999.0));
        assert_eq!(stats.percentile_ms(1.0), 1000.0);
        assert_eq!(stats.average_ms(), 500.5);
        assert_eq!(stats.min_ms(), 1.0);
        assert_eq!(stats.max_ms(), 1000.0);
        assert_eq!(stats.average_content_size(), 10.0);
    }

    #[test]
    fn merging_halves_equals_recording_whole() {
        let mut whole = RequestStats::new(false);
        let mut low = RequestStats::new(false);
        let mut high = RequestStats::new(false);
        for value in 1..=2000u64 {
            let latency = Duration::from_micros(value * 37 % 5000 + 100);
            whole.record(latency, None, value, value % 7 != 0);
            if value % 2 == 0 { &mut low } else { &mut high }.record(
                latency,
                None,
                value,
                value % 7 != 0,
            );
        }
        low.merge(&high);
        assert_eq!(low.requests, whole.requests);
        assert_eq!(low.failures, whole.failures);
        assert_eq!(low.content_bytes, whole.content_bytes);
        assert_eq!(low.average_ms(), whole.average_ms());
        for quantile in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(low.percentile_ms(quantile), whole.percentile_ms(quantile));
        }
    }

    #[test]
    fn failures_count_by_request_and_cause() {
        let mut first = StatsBatch::new(2, false);
        first.record_failure(0, FailureCause::Status(500));
        first.record_failure(0, FailureCause::Status(500));
        let mut second = StatsBatch::new(2, false);
        second.record_failure(0, FailureCause::Status(500));
        second.record_failure(1, FailureCause::ConnectionRefused);
        first.merge(&second);
        let status = first.failures[&(0, FailureCause::Status(500))];
        assert_eq!(status.count, 3);
        assert!(status.first_seen <= status.last_seen);
        assert_eq!(
            first.failures[&(1, FailureCause::ConnectionRefused)].count,
            1
        );
    }

    #[test]
    fn aggregated_row_sums_requests() {
        let mut batch = StatsBatch::new(2, true);
        batch.requests[0].record(ms(10), Some(ms(5)), 1, true);
        batch.requests[1].record(ms(30), Some(ms(20)), 3, false);
        let total = batch.aggregated();
        assert_eq!(total.requests, 2);
        assert_eq!(total.failures, 1);
        assert_eq!(total.average_ms(), 20.0);
        assert_eq!(total.service_time.as_ref().map(|h| h.len()), Some(2));
    }

    #[test]
    fn empty_stats_read_as_zero() {
        let stats = RequestStats::new(false);
        assert_eq!(stats.percentile_ms(0.95), 0.0);
        assert_eq!(stats.average_ms(), 0.0);
        assert_eq!(stats.min_ms(), 0.0);
    }
}
