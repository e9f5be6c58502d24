//! The page of one load run.

use super::markup::{escape, num, percent, setting};
use super::page::{Tone, cards, document};
use super::{tables, timeline};
use crate::report::load::{LoadReport, ModelSummary};

pub fn render(report: &LoadReport) -> String {
    let verdict = if report.thresholds.is_empty() {
        ("no thresholds set", Tone::Plain)
    } else if report.passed {
        ("thresholds passed", Tone::Good)
    } else {
        ("threshold failed", Tone::Bad)
    };
    let rows: Vec<_> = report
        .history
        .iter()
        .map(|row| (row.elapsed_s, row))
        .collect();
    let body = format!(
        "{}<h2>Over time</h2><section class=\"charts\">{}</section>{}{}",
        summary(report),
        timeline::charts(&rows, &[]),
        tables::all(report, "h2"),
        open_model(report)
    );
    document("Load test report", &report.target, verdict, &body)
}

/// "50 users, spawning 10/s" or "200 req/s over 64 connections".
fn model_label(model: &ModelSummary) -> String {
    match model {
        ModelSummary::Closed {
            users, spawn_rate, ..
        } => format!("{users} users, spawning {}/s", setting(*spawn_rate)),
        ModelSummary::Open { rate, connections } => {
            format!("{} req/s over {connections} connections", setting(*rate))
        }
    }
}

fn summary(report: &LoadReport) -> String {
    let total = &report.aggregated;
    // The end reason's JSON name ("run_time") is also the words for it.
    let end = serde_json::to_value(report.end)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default();
    let failures_tone = if total.failures > 0 {
        Tone::Bad
    } else {
        Tone::Good
    };
    let passed = report.thresholds.iter().filter(|t| t.passed).count();
    let thresholds = match (report.thresholds.len(), report.passed) {
        (0, _) => ("none set".to_string(), Tone::Plain),
        (n, true) => (format!("all {n} passed"), Tone::Good),
        (n, false) => (format!("{} of {n} failed", n - passed), Tone::Bad),
    };
    cards(&[
        ("Load", escape(&model_label(&report.model)), Tone::Plain),
        (
            "Duration",
            format!("{} s ({})", num(report.duration_s), escape(&end)),
            Tone::Plain,
        ),
        ("Peak users", report.peak_users.to_string(), Tone::Plain),
        ("Requests", total.requests.to_string(), Tone::Plain),
        (
            "Failures",
            format!("{} ({})", total.failures, percent(total.fail_ratio())),
            failures_tone,
        ),
        (
            "Throughput",
            format!("{} req/s", num(total.requests_per_s)),
            Tone::Plain,
        ),
        (
            "p50 / p95 / p99",
            format!(
                "{} / {} / {} ms",
                num(total.percentile("50")),
                num(total.percentile("95")),
                num(total.percentile("99"))
            ),
            Tone::Plain,
        ),
        ("Thresholds", thresholds.0, thresholds.1),
        (
            "Started",
            crate::report::utc_timestamp(report.started_at_unix),
            Tone::Plain,
        ),
        ("Engine", escape(report.engine), Tone::Plain),
    ])
}

fn open_model(report: &LoadReport) -> String {
    let Some(open) = &report.open_model else {
        return String::new();
    };
    let service = |label: &str| {
        num(open
            .service_time_percentiles_ms
            .get(label)
            .copied()
            .unwrap_or(0.0))
    };
    format!(
        "<h2>Open model</h2><p>Latency above counts from each request's scheduled start \
         (coordinated omission corrected); service time counts from the actual send.</p>{}",
        cards(&[
            (
                "Service time avg",
                format!("{} ms", num(open.service_time_average_ms)),
                Tone::Plain
            ),
            (
                "Service p50 / p95 / p99",
                format!(
                    "{} / {} / {} ms",
                    service("50"),
                    service("95"),
                    service("99")
                ),
                Tone::Plain
            ),
            (
                "Late starts (>1 ms)",
                open.late_starts.to_string(),
                Tone::Plain
            ),
            (
                "Never sent",
                open.not_started.to_string(),
                if open.not_started > 0 {
                    Tone::Bad
                } else {
                    Tone::Plain
                }
            ),
        ])
    )
}
