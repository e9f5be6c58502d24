//! `--html FILE`: one self-contained page (inline CSS and SVG, no script, nothing fetched) that
//! reads well in a browser and still works when mailed or archived.

mod chart;
mod load;
mod markup;
mod page;
mod scale;
mod slam;
mod tables;
mod timeline;

use std::path::Path;

use anyhow::Context;

use super::LoadReport;
use crate::slam::SlamReport;

/// The page of one load run: summary, charts over time, statistics and failures.
pub fn render_load(report: &LoadReport) -> String {
    load::render(report)
}

/// The page of a slam: steps, the knee, throughput and p95 against users, charts over time.
pub fn render_slam(report: &SlamReport) -> String {
    slam::render(report)
}

pub fn write(path: &Path, html: &str) -> anyhow::Result<()> {
    std::fs::write(path, html)
        .with_context(|| format!("could not write the HTML report to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::load::{FailureRow, ModelSummary, RequestRow};
    use crate::slam::{Breach, Knee, Objective, SlamStep};
    use crate::swarm::EndReason;
    use crate::swarm::collector::HistoryRow;

    fn row(name: &str, requests: u64, p95: f64) -> RequestRow {
        RequestRow {
            method: "GET".into(),
            name: name.into(),
            requests,
            failures: 0,
            median_ms: p95 / 2.0,
            average_ms: p95 / 2.0,
            min_ms: 1.0,
            max_ms: p95 * 2.0,
            percentiles_ms: BTreeMap::from([("95".to_string(), p95)]),
            requests_per_s: requests as f64 / 10.0,
            failures_per_s: 0.0,
            average_content_size: 42.0,
        }
    }

    fn history(seconds: u64, users: u64) -> Vec<HistoryRow> {
        (1..=seconds)
            .map(|s| HistoryRow {
                timestamp: 1_700_000_000 + s,
                elapsed_s: s as f64,
                users,
                current_rps: users as f64 * 10.0,
                current_fail_per_s: 0.0,
                current_percentiles_ms: vec![5.0; 11],
                total_requests: s * 100,
                total_failures: 0,
                total_median_ms: 5.0,
                total_average_ms: 5.0,
                total_min_ms: 1.0,
                total_max_ms: 9.0,
                total_average_content_size: 42.0,
            })
            .collect()
    }

    fn load(requests: Vec<RequestRow>, history: Vec<HistoryRow>) -> LoadReport {
        LoadReport {
            schema: crate::report::load::SCHEMA_ID,
            engine: "native",
            target: "http://127.0.0.1:8080".into(),
            model: ModelSummary::Closed {
                users: 10,
                spawn_rate: 5.0,
                wait_min_ms: 0.0,
                wait_max_ms: 0.0,
            },
            started_at_unix: 1_700_000_000.0,
            duration_s: history.len() as f64,
            end: EndReason::RunTime,
            peak_users: 10,
            aggregated: row("Aggregated", requests.iter().map(|r| r.requests).sum(), 9.0),
            requests,
            failures: Vec::new(),
            open_model: None,
            history,
            thresholds: Vec::new(),
            passed: true,
        }
    }

    #[test]
    fn escapes_names_and_errors_from_the_report() {
        let hostile = r#"<script>&"'"#;
        let mut report = load(vec![row(hostile, 5, 3.0)], history(3, 10));
        report.target = hostile.into();
        report.failures.push(FailureRow {
            method: "GET".into(),
            name: hostile.into(),
            cause: "other",
            error: hostile.into(),
            occurrences: 1,
            first_seen_unix: 0.0,
            last_seen_unix: 0.0,
        });
        let html = render_load(&report);
        assert!(!html.contains("<script>"), "unescaped name in the page");
        assert!(!html.contains(hostile));
        assert!(html.contains("&lt;script&gt;&amp;&quot;&#39;"));
    }

    #[test]
    fn an_empty_report_says_no_data_and_never_panics() {
        let html = render_load(&load(Vec::new(), Vec::new()));
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        assert_eq!(
            html.matches("no data").count(),
            3,
            "one per over-time chart"
        );
        assert!(!html.contains("<polyline"));
        assert!(!html.contains("NaN") && !html.contains("inf,") && !html.contains(",inf"));

        let empty_slam = render_slam(&slam(Vec::new(), None, None));
        assert!(empty_slam.contains("no data") && !empty_slam.contains("<polyline"));
    }

    #[test]
    fn one_point_still_draws_a_chart() {
        let html = render_load(&load(vec![row("/", 1, 2.0)], history(1, 1)));
        assert!(html.contains("data-chart=\"users\" data-points=\"1\""));
        assert!(!html.contains("no data"));
    }

    fn step(users: u64, rps: f64, p95_ms: f64, reasons: &[&str]) -> SlamStep {
        SlamStep {
            users,
            duration_s: 5.0,
            requests: (rps * 5.0) as u64,
            failures: 0,
            rps,
            fail_ratio: 0.0,
            p50_ms: p95_ms / 3.0,
            p95_ms,
            p99_ms: p95_ms * 1.5,
            met: reasons.is_empty(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            report: load(
                vec![row("/", (rps * 5.0) as u64, p95_ms)],
                history(5, users),
            ),
        }
    }

    fn slam(steps: Vec<SlamStep>, knee: Option<Knee>, broke: Option<Breach>) -> SlamReport {
        SlamReport {
            schema: "thidctl/slam-report/v1",
            engine: "native",
            target: "http://127.0.0.1:8080".into(),
            objective: Objective {
                max_p95_ms: Some(100.0),
                p95_growth_factor: 3.0,
                max_fail_ratio: 0.01,
                min_rps_gain: 0.25,
            },
            steps,
            knee,
            broke,
            interrupted: false,
        }
    }

    #[test]
    fn slam_marks_the_knee_and_the_breaking_step() {
        let report = slam(
            vec![
                step(10, 100.0, 10.0, &[]),
                step(20, 195.0, 12.0, &[]),
                step(
                    40,
                    210.0,
                    150.0,
                    &["p95 150.0 ms is above the limit of 100.0 ms"],
                ),
            ],
            Some(Knee {
                step: 1,
                users: 20,
                rps: 195.0,
                p95_ms: 12.0,
            }),
            Some(Breach {
                step: 2,
                users: 40,
                reasons: vec!["p95 150.0 ms is above the limit of 100.0 ms".into()],
            }),
        );
        let html = render_slam(&report);
        assert!(
            html.contains("<tr data-step=\"2\" class=\"knee\">"),
            "{html}"
        );
        assert!(html.contains("<tr data-step=\"3\" class=\"broke\">"));
        assert_eq!(html.matches("<tr data-step=").count(), 3);
        // Ringed on both scaling charts.
        assert_eq!(html.matches("data-mark=\"knee\"").count(), 2);
        assert_eq!(html.matches("data-mark=\"broke\"").count(), 2);
        assert!(html.contains("knee: 20 users, 195 req/s"));
        assert!(html.contains("data-chart=\"rps-users\" data-points=\"3\""));
        // Over time: three steps of five rows each on one axis, each step's start marked.
        assert!(html.contains("data-chart=\"rps\" data-points=\"15\""));
        assert_eq!(html.matches("<g class=\"guide ").count(), 3 * 3);
        assert!(html.contains("above the limit of 100.0 ms"));
    }
}
