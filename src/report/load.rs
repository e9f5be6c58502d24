//! The report of one load run, as serialised to JSON (schemas/load-report.schema.json).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::swarm::collector::{HistoryRow, PERCENTILES};
use crate::swarm::stats::{RequestStats, quantile_ms};
use crate::swarm::{EndReason, Model, SwarmResult};
use crate::thresholds::ThresholdResult;

pub const SCHEMA_ID: &str = "thidctl/load-report/v1";

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub schema: &'static str,
    pub engine: &'static str,
    pub target: String,
    pub model: ModelSummary,
    pub started_at_unix: f64,
    pub duration_s: f64,
    pub end: EndReason,
    pub peak_users: u64,
    pub requests: Vec<RequestRow>,
    pub aggregated: RequestRow,
    pub failures: Vec<FailureRow>,
    pub open_model: Option<OpenModelSummary>,
    pub history: Vec<HistoryRow>,
    pub thresholds: Vec<ThresholdResult>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSummary {
    Closed {
        users: u64,
        spawn_rate: f64,
        wait_min_ms: f64,
        wait_max_ms: f64,
    },
    Open {
        rate: f64,
        connections: u64,
    },
}

/// One line of Locust's statistics table. Times in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRow {
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub median_ms: f64,
    pub average_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Keys "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100".
    pub percentiles_ms: BTreeMap<String, f64>,
    pub requests_per_s: f64,
    pub failures_per_s: f64,
    pub average_content_size: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailureRow {
    pub method: String,
    pub name: String,
    /// Stable cause key: status, connection_refused, connection_reset, timeout, dns, other.
    pub cause: &'static str,
    pub error: String,
    pub occurrences: u64,
    pub first_seen_unix: f64,
    pub last_seen_unix: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenModelSummary {
    pub rate: f64,
    /// Requests that left more than 1 ms after their scheduled start.
    pub late_starts: u64,
    /// Requests whose scheduled start passed before the run ended but were never sent.
    pub not_started: u64,
    /// Time from actually sending to the full response, uncorrected (the rows above count
    /// from the scheduled start).
    pub service_time_percentiles_ms: BTreeMap<String, f64>,
    pub service_time_average_ms: f64,
}

fn unix_seconds(at: std::time::SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The label Locust gives a percentile column: 0.999 → "99.9".
pub fn percentile_label(quantile: f64) -> String {
    let percent = (quantile * 1e4).round() / 100.0;
    format!("{percent}")
}

impl RequestRow {
    pub fn new(method: &str, name: &str, stats: &RequestStats, elapsed: Duration) -> RequestRow {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        RequestRow {
            method: method.to_string(),
            name: name.to_string(),
            requests: stats.requests,
            failures: stats.failures,
            median_ms: stats.percentile_ms(0.5),
            average_ms: stats.average_ms(),
            min_ms: stats.min_ms(),
            max_ms: stats.max_ms(),
            percentiles_ms: PERCENTILES
                .iter()
                .map(|&q| (percentile_label(q), stats.percentile_ms(q)))
                .collect(),
            requests_per_s: stats.requests as f64 / seconds,
            failures_per_s: stats.failures as f64 / seconds,
            average_content_size: stats.average_content_size(),
        }
    }

    /// NaN where the engine did not report this percentile (an older Locust); reports show it
    /// as missing.
    pub fn percentile(&self, label: &str) -> f64 {
        self.percentiles_ms.get(label).copied().unwrap_or(f64::NAN)
    }

    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

impl LoadReport {
    pub fn from_swarm(result: &SwarmResult) -> LoadReport {
        let plan = &result.plan;
        let collector = &result.collector;
        let elapsed = result.elapsed;
        let requests = plan
            .scenario
            .tasks
            .iter()
            .zip(&collector.total.requests)
            .map(|(task, stats)| RequestRow::new(task.method.as_str(), &task.name, stats, elapsed))
            .collect();
        let total = collector.aggregated();
        let failures = collector
            .total
            .failures
            .iter()
            .map(|((index, cause), tally)| {
                let task = &plan.scenario.tasks[*index];
                let wall = |at: std::time::Instant| {
                    unix_seconds(
                        collector.started_wall + at.saturating_duration_since(collector.started),
                    )
                };
                FailureRow {
                    method: task.method.to_string(),
                    name: task.name.clone(),
                    cause: cause.kind(),
                    error: cause.to_string(),
                    occurrences: tally.count,
                    first_seen_unix: wall(tally.first_seen),
                    last_seen_unix: wall(tally.last_seen),
                }
            })
            .collect();
        let (model, open_model) = match &plan.model {
            Model::Closed { wait } => (
                ModelSummary::Closed {
                    users: plan.users,
                    spawn_rate: plan.spawn_rate,
                    wait_min_ms: wait.min.as_secs_f64() * 1e3,
                    wait_max_ms: wait.max.as_secs_f64() * 1e3,
                },
                None,
            ),
            Model::Open(schedule) => {
                let service = total
                    .service_time
                    .clone()
                    .unwrap_or_else(crate::swarm::stats::new_histogram);
                (
                    ModelSummary::Open {
                        rate: schedule.rate,
                        connections: schedule.connections,
                    },
                    Some(OpenModelSummary {
                        rate: schedule.rate,
                        late_starts: collector.total.late_starts,
                        not_started: collector.total.not_started,
                        service_time_percentiles_ms: PERCENTILES
                            .iter()
                            .map(|&q| (percentile_label(q), quantile_ms(&service, q)))
                            .collect(),
                        service_time_average_ms: if service.is_empty() {
                            0.0
                        } else {
                            service.mean() / 1e3
                        },
                    }),
                )
            }
        };
        LoadReport {
            schema: SCHEMA_ID,
            engine: "native",
            target: plan.target.url.clone(),
            model,
            started_at_unix: unix_seconds(collector.started_wall),
            duration_s: elapsed.as_secs_f64(),
            end: result.end,
            peak_users: collector.peak_users,
            requests,
            aggregated: RequestRow::new("", "Aggregated", &total, elapsed),
            failures,
            open_model,
            history: collector.history.clone(),
            thresholds: Vec::new(),
            passed: true,
        }
    }

    /// Records threshold results; the report passes only when all of them do.
    pub fn with_thresholds(mut self, results: Vec<ThresholdResult>) -> LoadReport {
        self.passed = results.iter().all(|r| r.passed);
        self.thresholds = results;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_match_locust_columns() {
        let labels: Vec<String> = PERCENTILES.iter().map(|&q| percentile_label(q)).collect();
        assert_eq!(
            labels,
            [
                "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100"
            ]
        );
    }
}
