//! Pass/fail limits for CI on the aggregated results of a run.

use std::time::Duration;

use serde::Serialize;

use crate::report::RequestRow;

#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    /// Highest acceptable share of failed requests, 0..=1.
    pub fail_ratio: Option<f64>,
    pub max_p95: Option<Duration>,
    pub max_p99: Option<Duration>,
    pub min_rps: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThresholdResult {
    pub name: &'static str,
    pub limit: f64,
    pub actual: f64,
    pub unit: &'static str,
    pub passed: bool,
}

impl Thresholds {
    pub fn evaluate(&self, total: &RequestRow) -> Vec<ThresholdResult> {
        let mut results = Vec::new();
        let mut at_most = |name, limit: Option<f64>, actual: f64, unit| {
            if let Some(limit) = limit {
                results.push(ThresholdResult {
                    name,
                    limit,
                    actual,
                    unit,
                    passed: actual <= limit,
                });
            }
        };
        at_most("fail-ratio", self.fail_ratio, total.fail_ratio(), "ratio");
        at_most(
            "max-p95",
            self.max_p95.map(millis),
            total.percentile("95"),
            "ms",
        );
        at_most(
            "max-p99",
            self.max_p99.map(millis),
            total.percentile("99"),
            "ms",
        );
        if let Some(limit) = self.min_rps {
            let actual = total.requests_per_s;
            results.push(ThresholdResult {
                name: "min-rps",
                limit,
                actual,
                unit: "req/s",
                passed: actual >= limit,
            });
        }
        results
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::stats::RequestStats;

    fn row() -> RequestRow {
        let mut stats = RequestStats::new(false);
        for ms in 1..=100 {
            stats.record(Duration::from_millis(ms), None, 0, ms > 5);
        }
        RequestRow::new("GET", "/hello", &stats, Duration::from_secs(10))
    }

    #[test]
    fn each_limit_passes_and_fails() {
        let row = row();
        let passing = Thresholds {
            fail_ratio: Some(0.05),
            max_p95: Some(Duration::from_millis(96)),
            max_p99: Some(Duration::from_millis(100)),
            min_rps: Some(10.0),
        };
        assert!(
            passing.evaluate(&row).iter().all(|r| r.passed),
            "{:?}",
            passing.evaluate(&row)
        );
        let failing = Thresholds {
            fail_ratio: Some(0.04),
            max_p95: Some(Duration::from_millis(94)),
            max_p99: Some(Duration::from_millis(97)),
            min_rps: Some(10.1),
        };
        let results = failing.evaluate(&row);
        assert_eq!(results.len(), 4);
        assert!(results.iter().all(|r| !r.passed), "{results:?}");
    }

    #[test]
    fn no_limits_no_results() {
        assert!(Thresholds::default().evaluate(&row()).is_empty());
    }
}
