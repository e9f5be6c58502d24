//! Request counters and latency histograms, recorded on the hot path with plain atomics.
//!
//! Every request does a handful of relaxed atomic adds on a fixed table; nothing here formats text
//! (that is `render`'s job) and nothing on the common path takes a lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hyper::Method;

/// Upper bounds of the finite histogram buckets in nanoseconds; the last bucket is `+Inf`.
/// Kept in integers so placement is exact (0.0005 s lands in the 0.0005 bucket, not the next).
pub const BUCKET_BOUNDS_NANOS: [u64; 14] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Finite buckets plus `+Inf`.
pub const BUCKETS: usize = BUCKET_BOUNDS_NANOS.len() + 1;

/// The `route` label. Bounded on purpose: an unknown path must not create a new series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    Hello,
    Metrics,
    Prometheus,
    Other,
}

impl Route {
    pub const ALL: [Route; 4] = [
        Route::Hello,
        Route::Metrics,
        Route::Prometheus,
        Route::Other,
    ];

    pub fn of(path: &str) -> Route {
        match path {
            "/hello" => Route::Hello,
            "/metrics" => Route::Metrics,
            "/metrics/prometheus" => Route::Prometheus,
            _ => Route::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Route::Hello => "/hello",
            Route::Metrics => "/metrics",
            Route::Prometheus => "/metrics/prometheus",
            Route::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The `method` label: the standard methods by name, anything else as `other`, so a client
/// inventing methods cannot grow the series set.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", |known| known.as_str())
}

/// Index of the bucket a duration falls in: the first whose bound is at or above it.
pub fn bucket_index(nanos: u64) -> usize {
    BUCKET_BOUNDS_NANOS.partition_point(|&bound| bound < nanos)
}

/// One histogram. The request count is the sum of the buckets, so `_count` and the `+Inf`
/// bucket can never disagree, and a request costs two atomic adds.
#[derive(Default)]
struct Series {
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

impl Series {
    fn observe(&self, nanos: u64) {
        self.buckets[bucket_index(nanos)].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    fn read(&self) -> ([u64; BUCKETS], u64) {
        (
            std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            self.sum_nanos.load(Relaxed),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    method: &'static str,
    route: Route,
    status: u16,
}

/// All request series of the process.
pub struct Metrics {
    /// Statuses with a lock-free slot for `GET` on every route; see [`Metrics::new`].
    fast_statuses: Box<[u16]>,
    /// `fast[route * fast_statuses.len() + status index]`.
    fast: Box<[Series]>,
    /// Other methods and rare statuses; a lock is fine there because nobody load-tests them.
    rare: Mutex<HashMap<Key, Series>>,
}

impl Metrics {
    /// `extra_statuses` joins the statuses the service answers anyway (200, 404, 405, 500, 503),
    /// so the configured failure status stays on the lock-free path too.
    pub fn new(extra_statuses: &[u16]) -> Metrics {
        let mut statuses = vec![200, 404, 405, 500, 503];
        for &status in extra_statuses {
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        let fast = (0..Route::ALL.len() * statuses.len())
            .map(|_| Series::default())
            .collect();
        Metrics {
            fast_statuses: statuses.into_boxed_slice(),
            fast,
            rare: Mutex::default(),
        }
    }

    pub fn observe(&self, method: &Method, route: Route, status: u16, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let fast_slot = (*method == Method::GET)
            .then(|| self.fast_statuses.iter().position(|&s| s == status))
            .flatten();
        match fast_slot {
            Some(slot) => self.fast[route.index() * self.fast_statuses.len() + slot].observe(nanos),
            None => {
                let key = Key {
                    method: method_label(method),
                    route,
                    status,
                };
                let mut rare = self
                    .rare
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                rare.entry(key).or_default().observe(nanos);
            }
        }
    }

    /// Every series that has seen at least one request, ordered by route, method, status.
    pub fn series(&self) -> Vec<SeriesSnapshot> {
        let fast = Route::ALL.iter().flat_map(|&route| {
            self.fast_statuses
                .iter()
                .enumerate()
                .map(move |(slot, &status)| {
                    let key = Key {
                        method: "GET",
                        route,
                        status,
                    };
                    (key, route.index() * self.fast_statuses.len() + slot)
                })
        });
        let mut out: Vec<SeriesSnapshot> = fast
            .map(|(key, index)| SeriesSnapshot::read(key, &self.fast[index]))
            .collect();
        {
            let rare = self
                .rare
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            out.extend(
                rare.iter()
                    .map(|(key, series)| SeriesSnapshot::read(*key, series)),
            );
        }
        out.retain(|series| series.count() > 0);
        out.sort_by_key(|series| (series.route, series.method, series.status));
        out
    }
}

/// One series as read at one moment; what the renderers work from.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    pub method: &'static str,
    pub route: Route,
    pub status: u16,
    /// Requests per bucket, not cumulative; the last is `+Inf`.
    pub buckets: [u64; BUCKETS],
    pub sum: Duration,
}

impl SeriesSnapshot {
    fn read(key: Key, series: &Series) -> SeriesSnapshot {
        let (buckets, sum_nanos) = series.read();
        SeriesSnapshot {
            method: key.method,
            route: key.route,
            status: key.status,
            buckets,
            sum: Duration::from_nanos(sum_nanos),
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// Everything the metrics endpoints show, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub uptime: Duration,
    pub in_flight: u64,
    pub queued: u64,
    pub rejected: u64,
    pub concurrency: usize,
    pub work_time: Duration,
    pub max_queue: usize,
    pub series: Vec<SeriesSnapshot>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_take_durations_at_or_below_their_bound() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(500_000), 0, "exactly 0.0005 s is in le=0.0005");
        assert_eq!(bucket_index(500_001), 1);
        assert_eq!(bucket_index(1_000_000), 1);
        assert_eq!(bucket_index(60_000_000), 7, "60 ms is in le=0.1");
        assert_eq!(bucket_index(10_000_000_000), 13, "10 s is in le=10");
        assert_eq!(bucket_index(10_000_000_001), 14, "above 10 s is +Inf only");
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn get_and_rare_series_are_both_counted_and_ordered() {
        let metrics = Metrics::new(&[418]);
        let ms = Duration::from_millis(1);
        metrics.observe(&Method::GET, Route::Hello, 200, ms);
        metrics.observe(&Method::GET, Route::Hello, 200, 3 * ms);
        metrics.observe(&Method::GET, Route::Hello, 418, ms);
        metrics.observe(&Method::POST, Route::Hello, 405, ms);
        metrics.observe(&Method::GET, Route::Other, 404, ms);
        metrics.observe(&Method::GET, Route::Metrics, 299, ms);

        let seen: Vec<_> = metrics
            .series()
            .iter()
            .map(|s| (s.route, s.method, s.status, s.count()))
            .collect();
        assert_eq!(
            seen,
            [
                (Route::Hello, "GET", 200, 2),
                (Route::Hello, "GET", 418, 1),
                (Route::Hello, "POST", 405, 1),
                (Route::Metrics, "GET", 299, 1),
                (Route::Other, "GET", 404, 1),
            ]
        );
        let hello = &metrics.series()[0];
        assert_eq!(hello.sum, 4 * ms);
        assert_eq!(hello.buckets[1], 1, "1 ms in le=0.001");
        assert_eq!(hello.buckets[3], 1, "3 ms in le=0.005");
    }

    #[test]
    fn invented_methods_share_one_label() {
        let brew = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&brew), "other");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }
}
