//! `GET /stats/requests` as thidctl reads it, whichever Locust answered. The shape drifted over
//! the versions: per-row percentiles went from none (0.8) to the 90th/99th (1.x–2.12) to
//! `response_time_percentile_<q>` keys (later 2.x); the aggregate row was "Total" in 0.8 and
//! "Aggregated" since; 0.8 spelt error counts `occurences`; 2.12 HTML-escapes error texts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::page::unescape_html;
use crate::report::RequestRow;
use crate::report::load::percentile_label;
use crate::swarm::collector::PERCENTILES;

/// One row of Locust's statistics table. Times in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LocustRow {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub median_ms: f64,
    pub average_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Only the percentiles this Locust reports, labelled as in [`RequestRow`] ("50", "95"…).
    pub percentiles_ms: BTreeMap<String, f64>,
    /// Over Locust's last ten seconds.
    pub current_rps: f64,
    pub current_fail_per_s: f64,
    /// Over the whole test; only later 2.x versions report these per row.
    pub total_rps: Option<f64>,
    pub total_fail_per_s: Option<f64>,
    pub average_content_size: f64,
}

/// One line of Locust's failures table.
#[derive(Debug, Clone, PartialEq)]
pub struct LocustErrorRow {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    /// Only later 2.x versions report when an error was first and last seen.
    pub first_seen_unix: Option<f64>,
    pub last_seen_unix: Option<f64>,
}

/// One answer of `GET /stats/requests`.
#[derive(Debug, Clone, PartialEq)]
pub struct LocustStats {
    /// "ready", "spawning" (0.8: "hatching"), "running", "stopping", "stopped", …
    pub state: String,
    pub users: u64,
    /// Per request, without the aggregate row.
    pub rows: Vec<LocustRow>,
    /// The aggregate row, named "Aggregated" with an empty method whatever this Locust calls it.
    pub total: LocustRow,
    pub errors: Vec<LocustErrorRow>,
    /// Response-time percentiles over the last ten seconds; 0 where this Locust gives none.
    pub current_p50_ms: f64,
    pub current_p95_ms: f64,
    /// Requests per second over the last ten seconds, all requests together.
    pub current_rps: f64,
    pub fail_ratio: f64,
    /// Connected workers when this Locust is a master (0.8 called them slaves); `None` when it
    /// runs its users itself.
    pub workers: Option<u64>,
}

impl LocustStats {
    pub fn parse(json: &str) -> Result<LocustStats, serde_json::Error> {
        let raw: RawStats = serde_json::from_str(json)?;
        let mut rows: Vec<LocustRow> = raw.stats.into_iter().map(LocustRow::from).collect();
        let total = match raw.total {
            Some(total) => LocustRow::from(total),
            None if rows.last().is_some_and(LocustRow::is_aggregate) => {
                rows.pop().expect("a last row")
            }
            // Locust without a runner answers with no rows at all.
            None => LocustRow::from(RawRow::default()),
        };
        let total = LocustRow {
            method: String::new(),
            name: "Aggregated".to_string(),
            ..total
        };
        let current = raw.current_response_time_percentiles.unwrap_or_default();
        let current_ms = |flat: Option<f64>, quantile: &str| {
            flat.or_else(|| {
                current
                    .get(&format!("response_time_percentile_{quantile}"))
                    .copied()
                    .flatten()
            })
            .unwrap_or(0.0)
        };
        Ok(LocustStats {
            state: raw.state.unwrap_or_default(),
            users: raw.user_count.unwrap_or(0),
            current_p50_ms: current_ms(raw.current_response_time_percentile_50, "0.5"),
            current_p95_ms: current_ms(raw.current_response_time_percentile_95, "0.95"),
            current_rps: total.current_rps,
            workers: raw
                .worker_count
                .or(raw.slave_count)
                .or(raw.workers.map(|w| w.len() as u64)),
            fail_ratio: raw.fail_ratio.unwrap_or_else(|| total.fail_ratio()),
            errors: raw.errors.into_iter().map(LocustErrorRow::from).collect(),
            rows,
            total,
        })
    }

    /// Whether users are being started or are running.
    pub fn is_active(&self) -> bool {
        matches!(self.state.as_str(), "spawning" | "hatching" | "running")
    }
}

impl LocustRow {
    fn is_aggregate(&self) -> bool {
        self.method.is_empty() && (self.name == "Aggregated" || self.name == "Total")
    }

    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }

    /// The row as thidctl reports it. Percentiles this Locust does not report are left out (0.8
    /// gives only the median and maximum, 2.12 adds the 90th and 99th, later 2.x the 95th and
    /// 99th), so reports show them as missing rather than as 0 ms.
    /// Where Locust gives no whole-test rates, `elapsed` (the time the stats cover) stands in
    /// for its own test duration.
    pub fn to_request_row(&self, elapsed: Duration) -> RequestRow {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        RequestRow {
            method: self.method.clone(),
            name: self.name.clone(),
            requests: self.requests,
            failures: self.failures,
            median_ms: self.median_ms,
            average_ms: self.average_ms,
            min_ms: self.min_ms,
            max_ms: self.max_ms,
            percentiles_ms: PERCENTILES
                .iter()
                .filter_map(|&q| {
                    let label = percentile_label(q);
                    let value = self.percentiles_ms.get(&label).copied()?;
                    Some((label, value))
                })
                .collect(),
            requests_per_s: self.total_rps.unwrap_or(self.requests as f64 / seconds),
            failures_per_s: self
                .total_fail_per_s
                .unwrap_or(self.failures as f64 / seconds),
            average_content_size: self.average_content_size,
        }
    }
}

/// The stable cause key of thidctl's failure rows, read from Locust's error text (a Python
/// exception repr such as `HTTPError('500 Server Error: …')`).
pub fn cause_of(error: &str) -> &'static str {
    let text = error.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&["connectionrefused", "connection refused"]) {
        "connection_refused"
    } else if has(&["connectionreset", "connection reset", "remotedisconnected"]) {
        "connection_reset"
    } else if has(&["timeout", "timed out"]) {
        "timeout"
    } else if has(&[
        "nameresolution",
        "name or service not known",
        "getaddrinfo",
        "nodename nor servname",
    ]) {
        "dns"
    } else if has(&["httperror", "catchresponseerror", "status code"]) {
        "status"
    } else {
        "other"
    }
}

/// The percentile label of a Locust key such as `response_time_percentile_0.95` or `0.95`.
fn label_of_key(key: &str) -> Option<String> {
    let quantile: f64 = key
        .strip_prefix("response_time_percentile_")
        .unwrap_or(key)
        .parse()
        .ok()?;
    (quantile > 0.0 && quantile <= 1.0).then(|| percentile_label(quantile))
}

#[derive(Deserialize)]
struct RawStats {
    #[serde(default)]
    stats: Vec<RawRow>,
    total: Option<RawRow>,
    #[serde(default)]
    errors: Vec<RawError>,
    state: Option<String>,
    user_count: Option<u64>,
    fail_ratio: Option<f64>,
    current_response_time_percentile_50: Option<f64>,
    current_response_time_percentile_95: Option<f64>,
    current_response_time_percentiles: Option<BTreeMap<String, Option<f64>>>,
    worker_count: Option<u64>,
    slave_count: Option<u64>,
    workers: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
struct RawRow {
    method: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    num_requests: u64,
    #[serde(default)]
    num_failures: u64,
    avg_response_time: Option<f64>,
    min_response_time: Option<f64>,
    max_response_time: Option<f64>,
    median_response_time: Option<f64>,
    current_rps: Option<f64>,
    current_fail_per_sec: Option<f64>,
    total_rps: Option<f64>,
    total_fail_per_sec: Option<f64>,
    avg_content_length: Option<f64>,
    ninetieth_response_time: Option<f64>,
    ninety_ninth_response_time: Option<f64>,
    response_time_percentiles: Option<BTreeMap<String, Option<f64>>>,
    /// Catches the flat `response_time_percentile_<q>` keys.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct RawError {
    method: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    error: String,
    #[serde(default, alias = "occurences")]
    occurrences: u64,
    first_seen: Option<f64>,
    last_seen: Option<f64>,
}

impl From<RawRow> for LocustRow {
    fn from(raw: RawRow) -> LocustRow {
        let mut percentiles_ms = BTreeMap::new();
        let flat = raw
            .other
            .iter()
            .filter(|(key, _)| key.starts_with("response_time_percentile_"))
            .map(|(key, value)| (key.as_str(), value.as_f64()));
        let nested = raw
            .response_time_percentiles
            .iter()
            .flatten()
            .map(|(key, value)| (key.as_str(), *value));
        for (key, value) in flat.chain(nested) {
            if let (Some(label), Some(value)) = (label_of_key(key), value) {
                percentiles_ms.insert(label, value);
            }
        }
        let mut known = |label: &str, value: Option<f64>| {
            if let Some(value) = value {
                percentiles_ms.entry(label.to_string()).or_insert(value);
            }
        };
        known("50", raw.median_response_time);
        known("90", raw.ninetieth_response_time);
        known("99", raw.ninety_ninth_response_time);
        known("100", raw.max_response_time);
        LocustRow {
            method: raw.method.unwrap_or_default(),
            name: unescape_html(&raw.name),
            requests: raw.num_requests,
            failures: raw.num_failures,
            median_ms: raw.median_response_time.unwrap_or(0.0),
            average_ms: raw.avg_response_time.unwrap_or(0.0),
            min_ms: raw.min_response_time.unwrap_or(0.0),
            max_ms: raw.max_response_time.unwrap_or(0.0),
            percentiles_ms,
            current_rps: raw.current_rps.unwrap_or(0.0),
            current_fail_per_s: raw.current_fail_per_sec.unwrap_or(0.0),
            total_rps: raw.total_rps,
            total_fail_per_s: raw.total_fail_per_sec,
            average_content_size: raw.avg_content_length.unwrap_or(0.0),
        }
    }
}

impl From<RawError> for LocustErrorRow {
    fn from(raw: RawError) -> LocustErrorRow {
        LocustErrorRow {
            method: raw.method.unwrap_or_default(),
            name: unescape_html(&raw.name),
            error: unescape_html(&raw.error),
            occurrences: raw.occurrences,
            first_seen_unix: raw.first_seen,
            last_seen_unix: raw.last_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> LocustStats {
        let path = format!(
            "{}/tests/fixtures/locust/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        LocustStats::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn labels(row: &LocustRow) -> Vec<&str> {
        row.percentiles_ms.keys().map(String::as_str).collect()
    }

    #[test]
    fn parses_recorded_2_47_stats() {
        let stats = fixture("stats-2.47-running.json");
        assert_eq!(stats.state, "running");
        assert!(stats.is_active());
        assert_eq!(stats.users, 5);
        assert_eq!(stats.workers, None);
        assert_eq!(stats.rows.len(), 1);
        let hello = &stats.rows[0];
        assert_eq!(
            (hello.method.as_str(), hello.name.as_str()),
            ("GET", "/hello")
        );
        assert_eq!((hello.requests, hello.failures), (1074, 322));
        assert_eq!(labels(hello), ["100", "50", "95", "99"]);
        assert_eq!(hello.percentiles_ms["95"], 12.0);
        assert_eq!(hello.percentiles_ms["99"], 21.0);
        assert_eq!(hello.total_rps, Some(265.79741516954056));
        assert_eq!(stats.total.name, "Aggregated");
        assert_eq!(stats.total.requests, 1074);
        assert_eq!(stats.current_p50_ms, 3.0);
        assert_eq!(stats.current_p95_ms, 10.0);
        assert_eq!(stats.current_rps, 215.5);
        assert_eq!(stats.fail_ratio, 0.29981378026070765);
        assert_eq!(
            stats.errors,
            [LocustErrorRow {
                method: "GET".into(),
                name: "/hello".into(),
                error: "HTTPError('500 Server Error: Internal Server Error for url: /hello')"
                    .into(),
                occurrences: 322,
                first_seen_unix: Some(1796305427.3574681),
                last_seen_unix: Some(1796305431.3666577),
            }]
        );
    }

    #[test]
    fn parses_ready_2_47_stats() {
        let stats = fixture("stats-2.47-ready.json");
        assert_eq!(stats.state, "ready");
        assert!(!stats.is_active());
        assert!(stats.rows.is_empty());
        assert_eq!(stats.total.requests, 0);
        // The ready answer already names the percentiles a run will have.
        assert_eq!(labels(&stats.total), ["100", "50", "95", "99"]);
    }

    #[test]
    fn parses_recorded_2_12_stats() {
        let stats = fixture("stats-2.12.json");
        assert_eq!((stats.state.as_str(), stats.users), ("running", 5));
        assert_eq!(stats.workers, None);
        assert_eq!(stats.rows.len(), 1);
        assert_eq!((stats.total.requests, stats.total.failures), (1366, 409));
        assert_eq!(labels(&stats.total), ["100", "50", "90", "99"]);
        assert_eq!(stats.total.percentiles_ms["90"], 6.0);
        assert_eq!(stats.total.percentiles_ms["99"], 11.0);
        assert_eq!(stats.total.total_rps, None);
        assert_eq!((stats.current_p50_ms, stats.current_p95_ms), (2.0, 7.0));
        assert_eq!(stats.current_rps, 237.5);
        assert_eq!(
            stats.errors[0].error,
            "HTTPError('500 Server Error: Internal Server Error for url: http://127.0.0.1:38363/hello')"
        );
        assert_eq!(stats.errors[0].occurrences, 409);

        // Idle, the aggregate row has a null method and already lists the percentiles.
        let ready = fixture("stats-2.12-ready.json");
        assert!(ready.rows.is_empty());
        assert_eq!(labels(&ready.total), ["100", "50", "90", "99"]);
    }

    #[test]
    fn counts_a_masters_workers() {
        let stats = fixture("stats-2.12-master.json");
        assert_eq!((stats.users, stats.workers), (50, Some(2)));
    }

    #[test]
    fn parses_0_8_stats() {
        let stats = fixture("stats-0.8.json");
        assert_eq!(stats.state, "hatching");
        assert!(stats.is_active());
        assert_eq!(stats.users, 40);
        assert_eq!(stats.workers, Some(2));
        assert_eq!(stats.rows.len(), 2);
        assert_eq!(
            (stats.total.method.as_str(), stats.total.name.as_str()),
            ("", "Aggregated")
        );
        assert_eq!((stats.total.requests, stats.total.failures), (1800, 600));
        assert_eq!(labels(&stats.total), ["100", "50"]);
        assert_eq!(stats.errors[0].occurrences, 600);
        assert_eq!(stats.errors[0].first_seen_unix, None);
        assert_eq!((stats.current_p50_ms, stats.current_p95_ms), (0.0, 0.0));
        assert_eq!(stats.current_rps, 61.8);
    }

    #[test]
    fn maps_rows_exactly() {
        let stats = fixture("stats-2.47-running.json");
        let row = stats.rows[0].to_request_row(Duration::from_secs(4));
        assert_eq!((row.requests, row.failures), (1074, 322));
        assert_eq!(row.median_ms, 3.0);
        assert_eq!(row.average_ms, 4.602575305403708);
        assert_eq!((row.min_ms, row.max_ms), (1.0, 33.0));
        assert_eq!(row.percentile("50"), 3.0);
        assert_eq!(row.percentile("95"), 12.0);
        assert_eq!(row.percentile("99"), 21.0);
        assert_eq!(row.percentile("100"), 33.0);
        assert!(
            row.percentile("66").is_nan(),
            "2.47 does not report the 66th"
        );
        assert_eq!(row.requests_per_s, 265.79741516954056);
        assert_eq!(row.failures_per_s, 79.6897278255047);
        assert_eq!(row.average_content_size, 23.001862197392924);

        // Without whole-test rates from Locust, the covered time gives them.
        let old = fixture("stats-0.8.json");
        let row = old.rows[0].to_request_row(Duration::from_secs(60));
        assert_eq!(row.requests_per_s, 20.0);
        assert_eq!(row.failures_per_s, 0.0);
    }

    #[test]
    fn causes_from_error_texts() {
        assert_eq!(cause_of("HTTPError('500 Server Error: x')"), "status");
        assert_eq!(
            cause_of("ConnectionRefusedError(111, 'Connection refused')"),
            "connection_refused"
        );
        assert_eq!(
            cause_of("ConnectionResetError(104, 'Connection reset by peer')"),
            "connection_reset"
        );
        assert_eq!(cause_of("ReadTimeout('timed out')"), "timeout");
        assert_eq!(cause_of("NameResolutionError('getaddrinfo failed')"), "dns");
        assert_eq!(cause_of("RuntimeError('boom')"), "other");
    }

    #[test]
    fn percentile_keys() {
        assert_eq!(
            label_of_key("response_time_percentile_0.95").as_deref(),
            Some("95")
        );
        assert_eq!(label_of_key("0.999").as_deref(), Some("99.9"));
        assert_eq!(label_of_key("response_time_percentile_x"), None);
    }
}
