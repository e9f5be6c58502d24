//! The swarm's Prometheus exposition: the series names and labels of the Locust exporter the
//! original dashboards were built on (response times in ms, labels `method` and `name`), so the
//! Locust panels fill in whichever engine ran, plus real histograms in seconds.

use std::fmt::Write;

use super::collector::Collector;
use super::failure::FailureCause;
use super::plan::SwarmPlan;
use super::stats::RequestStats;

/// Bucket bounds of `thidctl_request_duration_seconds`, in seconds.
const BUCKETS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Locust's web UI states as the exporter numbered them.
pub fn running_state(users: u64, target_users: u64, stopping: bool) -> u8 {
    match (stopping, users) {
        (true, _) | (false, 0) => 0,
        _ if users < target_users => 1,
        _ => 2,
    }
}

pub fn render(collector: &Collector, plan: &SwarmPlan, state: u8) -> String {
    let mut out = String::with_capacity(4096);
    let users = collector.users();
    let aggregated = collector.aggregated();
    gauge(
        &mut out,
        "locust_up",
        "1 while the swarm runs.",
        &[("", 1.0)],
    );
    gauge(
        &mut out,
        "locust_users",
        "Simulated users.",
        &[("", users as f64)],
    );
    gauge(
        &mut out,
        "locust_running",
        "0 stopped, 1 spawning, 2 running.",
        &[("", f64::from(state))],
    );
    gauge(
        &mut out,
        "locust_workers_count",
        "Worker threads.",
        &[("", plan.active_threads() as f64)],
    );

    let rows: Vec<(String, &RequestStats, (f64, f64))> = plan
        .scenario
        .tasks
        .iter()
        .zip(&collector.total.requests)
        .enumerate()
        .map(|(index, (task, stats))| {
            (
                labels(task.method.as_str(), &task.name),
                stats,
                collector.current_rates(Some(index)),
            )
        })
        .chain(std::iter::once((
            labels("", "Aggregated"),
            &aggregated,
            collector.current_rates(None),
        )))
        .collect();
    let per_row = |pick: &dyn Fn(&RequestStats, (f64, f64)) -> f64| -> Vec<(&str, f64)> {
        rows.iter()
            .map(|(label, stats, rates)| (label.as_str(), pick(stats, *rates)))
            .collect()
    };
    counter(
        &mut out,
        "locust_requests_num_requests",
        "Requests sent.",
        &per_row(&|s, _| s.requests as f64),
    );
    counter(
        &mut out,
        "locust_requests_num_failures",
        "Requests failed.",
        &per_row(&|s, _| s.failures as f64),
    );
    gauge(
        &mut out,
        "locust_requests_avg_response_time",
        "Mean response time, ms.",
        &per_row(&|s, _| s.average_ms()),
    );
    gauge(
        &mut out,
        "locust_requests_median_response_time",
        "Median response time, ms.",
        &per_row(&|s, _| s.percentile_ms(0.5)),
    );
    gauge(
        &mut out,
        "locust_requests_min_response_time",
        "Fastest response, ms.",
        &per_row(&|s, _| s.min_ms()),
    );
    gauge(
        &mut out,
        "locust_requests_max_response_time",
        "Slowest response, ms.",
        &per_row(&|s, _| s.max_ms()),
    );
    gauge(
        &mut out,
        "locust_requests_current_rps",
        "Requests per second, last 10 s.",
        &per_row(&|_, r| r.0),
    );
    gauge(
        &mut out,
        "locust_requests_current_fail_per_sec",
        "Failures per second, last 10 s.",
        &per_row(&|_, r| r.1),
    );
    gauge(
        &mut out,
        "locust_requests_avg_content_length",
        "Mean response size, bytes.",
        &per_row(&|s, _| s.average_content_size()),
    );

    let window = collector.window_latency();
    for (quantile, suffix) in [(0.5, "50"), (0.95, "95")] {
        let value = super::stats::quantile_ms(&window, quantile);
        gauge(
            &mut out,
            &format!("locust_requests_current_response_time_percentile_{suffix}"),
            "Response-time percentile over the last 10 s, ms.",
            &[("", value)],
        );
    }
    let ratio = if aggregated.requests == 0 {
        0.0
    } else {
        aggregated.failures as f64 / aggregated.requests as f64
    };
    gauge(
        &mut out,
        "locust_requests_fail_ratio",
        "Failed share of all requests.",
        &[("", ratio)],
    );

    let errors: Vec<(String, f64)> = collector
        .total
        .failures
        .iter()
        .map(|((index, cause), tally)| {
            let task = &plan.scenario.tasks[*index];
            (
                error_labels(task.method.as_str(), &task.name, cause),
                tally.count as f64,
            )
        })
        .collect();
    let errors: Vec<(&str, f64)> = errors.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    gauge(&mut out, "locust_errors", "Failures by cause.", &errors);

    histograms(&mut out, collector, plan);
    out
}

fn histograms(out: &mut String, collector: &Collector, plan: &SwarmPlan) {
    let name = "thidctl_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Response time of the swarm's requests.\n# TYPE {name} histogram"
    );
    for (task, stats) in plan.scenario.tasks.iter().zip(&collector.total.requests) {
        let base = labels(task.method.as_str(), &task.name);
        for bound in BUCKETS_S {
            let count = stats.latency.count_between(0, (bound * 1e6) as u64);
            let _ = writeln!(out, "{name}_bucket{{{base},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{base},le=\"+Inf\"}} {}",
            stats.requests
        );
        let _ = writeln!(
            out,
            "{name}_sum{{{base}}} {}",
            stats.average_ms() * stats.requests as f64 / 1000.0
        );
        let _ = writeln!(out, "{name}_count{{{base}}} {}", stats.requests);
    }
}

fn labels(method: &str, name: &str) -> String {
    format!("method=\"{}\",name=\"{}\"", escape(method), escape(name))
}

fn error_labels(method: &str, name: &str, cause: &FailureCause) -> String {
    format!(
        "{},error=\"{}\"",
        labels(method, name),
        escape(&cause.to_string())
    )
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]) {
    family(out, name, help, "gauge", samples);
}

fn counter(out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]) {
    family(out, name, help, "counter", samples);
}

fn family(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::swarm::plan::Model;
    use crate::swarm::scenario::Scenario;
    use crate::swarm::stats::StatsBatch;
    use crate::swarm::target::Target;

    fn plan() -> SwarmPlan {
        SwarmPlan {
            target: Target::parse("http://127.0.0.1:1").unwrap(),
            scenario: Scenario::single_path("/hello").unwrap(),
            users: 2,
            spawn_rate: 1.0,
            model: Model::Closed {
                wait: Default::default(),
            },
            run_time: None,
            iterations: None,
            stop_timeout: Duration::ZERO,
            request_timeout: Duration::from_secs(1),
            threads: 1,
        }
    }

    #[test]
    fn exposes_the_locust_exporter_series() {
        let plan = plan();
        let start = Instant::now();
        let mut collector = Collector::new(start, 1, 1, false);
        let mut batch = StatsBatch::new(1, false);
        for ms in [2, 4, 4, 30] {
            batch.requests[0].record(Duration::from_millis(ms), None, 26, ms != 30);
        }
        batch.record_failure(0, FailureCause::Status(500));
        batch.users = 2;
        collector.absorb(0, &batch);
        collector.sample(start + Duration::from_secs(1));
        let text = render(&collector, &plan, 2);
        for line in [
            "locust_users 2",
            "locust_running 2",
            "locust_requests_num_requests{method=\"GET\",name=\"/hello\"} 4",
            "locust_requests_num_failures{method=\"GET\",name=\"/hello\"} 1",
            "locust_requests_num_requests{method=\"\",name=\"Aggregated\"} 4",
            "locust_requests_avg_response_time{method=\"GET\",name=\"/hello\"} 10",
            "locust_requests_current_rps{method=\"GET\",name=\"/hello\"} 4",
            "locust_requests_fail_ratio 0.25",
            "locust_errors{method=\"GET\",name=\"/hello\",error=\"HTTP 500 Internal Server Error\"} 1",
            "thidctl_request_duration_seconds_bucket{method=\"GET\",name=\"/hello\",le=\"0.005\"} 3",
            "thidctl_request_duration_seconds_bucket{method=\"GET\",name=\"/hello\",le=\"+Inf\"} 4",
            "thidctl_request_duration_seconds_count{method=\"GET\",name=\"/hello\"} 4",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn states() {
        assert_eq!(running_state(0, 10, false), 0);
        assert_eq!(running_state(5, 10, false), 1);
        assert_eq!(running_state(10, 10, false), 2);
        assert_eq!(running_state(10, 10, true), 0);
    }
}
