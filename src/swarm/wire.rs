//! A worker process's cumulative numbers as one line of JSON, so that a coordinator can merge
//! the numbers of many workers exactly: histograms travel as their recorded buckets (percentiles
//! cannot be averaged), counters as integers, and times relative to a start given on the Unix
//! clock, since `Instant`s mean nothing outside their process.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::failure::FailureCause;
use super::stats::{FailureTally, RequestStats, StatsBatch, Totals, new_histogram};

/// Bumped whenever a field changes meaning; readers skip lines of another version.
pub const WIRE_VERSION: u32 = 1;

/// What a worker's result lines on stdout start with; the JSON follows on the same line.
pub const LINE_PREFIX: &str = "THIDCTL-WORKER ";

/// Everything a worker measured since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireBatch {
    pub version: u32,
    /// The worker's swarm start, in seconds since the Unix epoch.
    pub started_unix: f64,
    /// Seconds from the start to this snapshot (to the stop, in the final one).
    pub elapsed_s: f64,
    /// True in the worker's last line only: the run is over and nothing is missing.
    pub done: bool,
    /// One entry per scenario request, by index.
    pub requests: Vec<WireRequest>,
    pub failures: Vec<WireFailure>,
    pub late_starts: u64,
    pub not_started: u64,
    /// Users alive at the snapshot.
    pub users: u64,
}

/// One scenario request's stats: HDR buckets as `(value_us, count)` plus the exact counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRequest {
    pub latency: Vec<(u64, u64)>,
    /// Open model only.
    pub service_time: Option<Vec<(u64, u64)>>,
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    pub latency_sum_us: u64,
    /// `u64::MAX` while nothing was recorded.
    pub min_us: u64,
    pub max_us: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFailure {
    pub request: usize,
    pub cause: FailureCause,
    pub count: u64,
    /// Seconds since the worker's start.
    pub first_seen_s: f64,
    pub last_seen_s: f64,
}

/// Snapshots `batch`, measured from `started` (`started_unix` on the Unix clock).
pub fn to_wire(
    batch: &StatsBatch,
    users: u64,
    started: Instant,
    started_unix: f64,
    elapsed: Duration,
) -> WireBatch {
    let since_start = |at: Instant| at.saturating_duration_since(started).as_secs_f64();
    WireBatch {
        version: WIRE_VERSION,
        started_unix,
        elapsed_s: elapsed.as_secs_f64(),
        done: false,
        requests: batch.requests.iter().map(request_to_wire).collect(),
        failures: batch
            .failures
            .iter()
            .map(|((request, cause), tally)| WireFailure {
                request: *request,
                cause: cause.clone(),
                count: tally.count,
                first_seen_s: since_start(tally.first_seen),
                last_seen_s: since_start(tally.last_seen),
            })
            .collect(),
        late_starts: batch.late_starts,
        not_started: batch.not_started,
        users,
    }
}

fn request_to_wire(stats: &RequestStats) -> WireRequest {
    let totals = stats.totals();
    WireRequest {
        latency: buckets(&stats.latency),
        service_time: stats.service_time.as_ref().map(buckets),
        requests: totals.requests,
        failures: totals.failures,
        content_bytes: totals.content_bytes,
        latency_sum_us: totals.latency_sum_us,
        min_us: totals.min_us,
        max_us: totals.max_us,
    }
}

/// The recorded buckets, each as its highest equivalent value: recorded again, that value
/// falls into the same bucket, so the histogram comes back exactly.
fn buckets(histogram: &Histogram<u64>) -> Vec<(u64, u64)> {
    histogram
        .iter_recorded()
        .map(|bucket| (bucket.value_iterated_to(), bucket.count_at_value()))
        .collect()
}

fn histogram_from(buckets: &[(u64, u64)]) -> Histogram<u64> {
    let mut histogram = new_histogram();
    for &(value, count) in buckets {
        // Saturating like `RequestStats::record`: an auto-resizing histogram takes any u64.
        let _ = histogram.record_n(value, count);
    }
    histogram
}

/// Rebuilds a batch on the reader's clock: `base` is the reader's `Instant` for the Unix time
/// `base_unix`.
pub fn from_wire(wire: &WireBatch, base: Instant, base_unix: f64) -> StatsBatch {
    let open_model = wire.requests.iter().any(|r| r.service_time.is_some());
    let mut batch = StatsBatch::new(0, open_model);
    batch.requests = wire
        .requests
        .iter()
        .map(|request| {
            RequestStats::from_parts(
                histogram_from(&request.latency),
                request.service_time.as_deref().map(histogram_from),
                Totals {
                    requests: request.requests,
                    failures: request.failures,
                    content_bytes: request.content_bytes,
                    latency_sum_us: request.latency_sum_us,
                    min_us: request.min_us,
                    max_us: request.max_us,
                },
            )
        })
        .collect();
    let rebase = |seconds: f64| rebase(base, base_unix, wire.started_unix + seconds);
    for failure in &wire.failures {
        batch.failures.insert(
            (failure.request, failure.cause.clone()),
            FailureTally {
                count: failure.count,
                first_seen: rebase(failure.first_seen_s),
                last_seen: rebase(failure.last_seen_s),
            },
        );
    }
    batch.late_starts = wire.late_starts;
    batch.not_started = wire.not_started;
    batch.users = wire.users;
    batch
}

/// The reader's `Instant` for Unix time `unix`; times before the process's clock began clamp.
fn rebase(base: Instant, base_unix: f64, unix: f64) -> Instant {
    let offset = unix - base_unix;
    match Duration::try_from_secs_f64(offset.abs()) {
        Ok(distance) if offset >= 0.0 => base + distance,
        Ok(distance) => base.checked_sub(distance).unwrap_or(base),
        Err(_) => base,
    }
}

/// Adds a worker's numbers to `target`, failure times rebased onto the reader's clock (see
/// [`from_wire`]). Unlike `StatsBatch::merge`, users add up: workers run disjoint users.
/// `target` grows to the wire's request count, so an empty `StatsBatch::new(0, _)` will do.
pub fn merge_into(target: &mut StatsBatch, wire: &WireBatch, base: Instant, base_unix: f64) {
    let batch = from_wire(wire, base, base_unix);
    while target.requests.len() < batch.requests.len() {
        target.requests.push(RequestStats::new(false));
    }
    target.merge(&batch);
    target.users += batch.users;
}

impl WireBatch {
    /// The line a worker prints: the prefix and the JSON, without a newline.
    pub fn to_line(&self) -> String {
        let json = serde_json::to_string(self).expect("a wire batch always serialises");
        format!("{LINE_PREFIX}{json}")
    }

    /// The last readable wire line in a worker's output. A worker killed mid-write leaves a
    /// cut line; it is skipped, so the snapshot before it counts.
    pub fn last_in(output: &str) -> Option<WireBatch> {
        output.lines().rev().find_map(|line| {
            let json = line.strip_prefix(LINE_PREFIX)?;
            serde_json::from_str::<WireBatch>(json)
                .ok()
                .filter(|wire| wire.version == WIRE_VERSION)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::collector::PERCENTILES;

    /// A batch with a wide spread of latencies, service times, failures and counters.
    fn batch(seed: u64, open_model: bool) -> StatsBatch {
        let mut batch = StatsBatch::new(2, open_model);
        for n in 1..=3000u64 {
            let micros = (n * seed * 7919) % 2_000_000 + n % 13;
            let latency = Duration::from_micros(micros);
            let service = open_model.then(|| Duration::from_micros(micros / 2));
            batch.requests[(n % 2) as usize].record(latency, service, n % 500, n % 11 != 0);
        }
        batch.record_failure(0, FailureCause::Status(503));
        batch.record_failure(1, FailureCause::Other(format!("odd {seed}")));
        batch.record_failure(0, FailureCause::Status(503));
        batch.late_starts = seed;
        batch.not_started = seed * 2;
        batch
    }

    fn round_trip(wire: &WireBatch) -> WireBatch {
        WireBatch::last_in(&format!("noise\n{}\n", wire.to_line())).expect("the line parses")
    }

    fn assert_same_stats(actual: &RequestStats, expected: &RequestStats) {
        assert_eq!(buckets(&actual.latency), buckets(&expected.latency));
        assert_eq!(actual.latency.len(), expected.latency.len());
        assert_eq!(actual.latency.min(), expected.latency.min());
        assert_eq!(actual.latency.max(), expected.latency.max());
        assert_eq!(actual.latency.mean(), expected.latency.mean());
        for quantile in PERCENTILES {
            assert_eq!(
                actual.latency.value_at_quantile(quantile),
                expected.latency.value_at_quantile(quantile)
            );
            assert_eq!(
                actual.percentile_ms(quantile),
                expected.percentile_ms(quantile)
            );
        }
        assert_eq!(
            actual.service_time.as_ref().map(buckets),
            expected.service_time.as_ref().map(buckets)
        );
        assert_eq!(actual.totals(), expected.totals());
        assert_eq!(actual.average_ms(), expected.average_ms());
        assert_eq!(actual.min_ms(), expected.min_ms());
        assert_eq!(actual.max_ms(), expected.max_ms());
    }

    #[test]
    fn wire_round_trip_is_exact() {
        let started = Instant::now();
        for open_model in [false, true] {
            let original = batch(3, open_model);
            let wire = to_wire(
                &original,
                4,
                started,
                1_700_000_000.0,
                Duration::from_secs(9),
            );
            let back = from_wire(&round_trip(&wire), started, 1_700_000_000.0);
            for (actual, expected) in back.requests.iter().zip(&original.requests) {
                assert_same_stats(actual, expected);
            }
            assert_eq!(back.failures.len(), original.failures.len());
            for (key, tally) in &original.failures {
                let rebuilt = back.failures[key];
                assert_eq!(rebuilt.count, tally.count);
                let drift = |a: Instant, b: Instant| a.max(b).duration_since(a.min(b));
                assert!(drift(rebuilt.first_seen, tally.first_seen) < Duration::from_micros(10));
                assert!(drift(rebuilt.last_seen, tally.last_seen) < Duration::from_micros(10));
            }
            assert_eq!((back.late_starts, back.not_started, back.users), (3, 6, 4));
        }
    }

    #[test]
    fn empty_stats_survive_the_wire() {
        let started = Instant::now();
        let original = StatsBatch::new(1, false);
        let wire = to_wire(&original, 0, started, 0.0, Duration::ZERO);
        let back = from_wire(&round_trip(&wire), started, 0.0);
        assert_same_stats(&back.requests[0], &original.requests[0]);
        assert_eq!(back.requests[0].percentile_ms(0.95), 0.0);
    }

    #[test]
    fn merging_wires_equals_merging_batches() {
        let started = Instant::now();
        let (first, second) = (batch(3, false), batch(5, false));
        let mut direct = batch(3, false);
        direct.merge(&second);

        // The second worker started 2.5 s after the first, on the Unix clock.
        let mut merged = StatsBatch::new(0, false);
        let first_wire = to_wire(&first, 2, started, 1000.0, Duration::from_secs(1));
        let second_wire = to_wire(&second, 3, started, 1002.5, Duration::from_secs(1));
        merge_into(&mut merged, &round_trip(&first_wire), started, 1000.0);
        merge_into(&mut merged, &round_trip(&second_wire), started, 1000.0);

        assert_eq!(merged.requests.len(), 2);
        for (actual, expected) in merged.requests.iter().zip(&direct.requests) {
            assert_same_stats(actual, expected);
        }
        let (actual, expected) = (merged.aggregated(), direct.aggregated());
        assert_same_stats(&actual, &expected);
        let counts = |batch: &StatsBatch| {
            batch
                .failures
                .iter()
                .map(|(key, tally)| (key.clone(), tally.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&merged), counts(&direct));
        assert_eq!(merged.users, 5);
        assert_eq!(merged.late_starts, 8);
        // Rebased: the second worker's failures sit 2.5 s later on the shared clock.
        let odd = &merged.failures[&(1, FailureCause::Other("odd 5".into()))];
        let offset = odd.first_seen.duration_since(started).as_secs_f64();
        assert!((offset - 2.5).abs() < 0.01, "{offset}");
    }

    #[test]
    fn a_cut_last_line_falls_back_to_the_one_before() {
        let wire = to_wire(
            &batch(3, false),
            1,
            Instant::now(),
            0.0,
            Duration::from_secs(5),
        );
        let line = wire.to_line();
        let output = format!("{line}\n{}\n", &line[..line.len() / 2]);
        assert_eq!(WireBatch::last_in(&output), Some(wire));
        assert_eq!(WireBatch::last_in("nothing here\n"), None);
    }
}
