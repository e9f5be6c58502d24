//! The tables people read at the end of a run, laid out like Locust's console summary.

use std::fmt::Write;

use super::load::{LoadReport, ModelSummary, RequestRow, percentile_label};
use crate::swarm::collector::PERCENTILES;

const NAME_WIDTH: usize = 30;

pub fn render(report: &LoadReport) -> String {
    let mut out = String::new();
    let model = match &report.model {
        ModelSummary::Closed {
            users, spawn_rate, ..
        } => {
            format!("{users} users, spawn rate {spawn_rate}/s")
        }
        ModelSummary::Open { rate, connections } => {
            format!("open model at {rate}/s over {connections} connections")
        }
    };
    let _ = writeln!(
        out,
        "Target {}: {model}, ran {:.1}s (ended by {}), peak {} users\n",
        report.target,
        report.duration_s,
        end_label(report),
        report.peak_users
    );
    stats_table(&mut out, report);
    percentile_table(&mut out, report);
    if let Some(open) = &report.open_model {
        let _ = writeln!(
            out,
            "Open model: latency counted from each request's scheduled start (coordinated omission corrected).\n  \
             service time (from actual send): avg {:.1} ms, p50 {} ms, p95 {} ms, p99 {} ms\n  \
             late starts (>1 ms behind schedule): {}   scheduled but never sent: {}\n",
            open.service_time_average_ms,
            ms(open
                .service_time_percentiles_ms
                .get("50")
                .copied()
                .unwrap_or(0.0)),
            ms(open
                .service_time_percentiles_ms
                .get("95")
                .copied()
                .unwrap_or(0.0)),
            ms(open
                .service_time_percentiles_ms
                .get("99")
                .copied()
                .unwrap_or(0.0)),
            open.late_starts,
            open.not_started
        );
    }
    failures_table(&mut out, report);
    thresholds_table(&mut out, report);
    out
}

fn end_label(report: &LoadReport) -> &'static str {
    match report.end {
        crate::swarm::EndReason::RunTime => "run time",
        crate::swarm::EndReason::Iterations => "iterations",
        crate::swarm::EndReason::Interrupted => "Ctrl-C",
    }
}

fn stats_table(out: &mut String, report: &LoadReport) {
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:>9} {:>16} | {:>8} {:>8} {:>8} {:>8} | {:>9} {:>10} {:>8}",
        "Type",
        "Name",
        "# reqs",
        "# fails",
        "Avg",
        "Min",
        "Max",
        "Med",
        "req/s",
        "failures/s",
        "size"
    );
    let separator = "-".repeat(8 + NAME_WIDTH + 106 - 38);
    let _ = writeln!(out, "{separator}");
    for row in &report.requests {
        stats_line(out, row);
    }
    let _ = writeln!(out, "{separator}");
    stats_line(out, &report.aggregated);
    out.push('\n');
}

fn stats_line(out: &mut String, row: &RequestRow) {
    let fails = format!("{}({:.2}%)", row.failures, row.fail_ratio() * 100.0);
    let _ = writeln!(
        out,
        "{:<8} {:<NAME_WIDTH$} {:>9} {:>16} | {:>8} {:>8} {:>8} {:>8} | {:>9.2} {:>10.2} {:>8.0}",
        row.method,
        truncate(&row.name),
        row.requests,
        fails,
        ms(row.average_ms),
        ms(row.min_ms),
        ms(row.max_ms),
        ms(row.median_ms),
        row.requests_per_s,
        row.failures_per_s,
        row.average_content_size
    );
}

fn percentile_table(out: &mut String, report: &LoadReport) {
    let _ = writeln!(out, "Response time percentiles (ms)");
    let mut header = format!("{:<8} {:<NAME_WIDTH$}", "Type", "Name");
    for &quantile in &PERCENTILES {
        let _ = write!(header, " {:>7}", format!("{}%", percentile_label(quantile)));
    }
    let _ = writeln!(out, "{header} {:>9}", "# reqs");
    let separator = "-".repeat(header.len() + 10);
    let _ = writeln!(out, "{separator}");
    for row in report.requests.iter().chain([&report.aggregated]) {
        let mut line = format!("{:<8} {:<NAME_WIDTH$}", row.method, truncate(&row.name));
        for &quantile in &PERCENTILES {
            let _ = write!(
                line,
                " {:>7}",
                ms(row.percentile(&percentile_label(quantile)))
            );
        }
        let _ = writeln!(out, "{line} {:>9}", row.requests);
    }
    out.push('\n');
}

fn failures_table(out: &mut String, report: &LoadReport) {
    if report.failures.is_empty() {
        return;
    }
    let _ = writeln!(out, "Failures");
    let _ = writeln!(
        out,
        "{:>13}  {:<8} {:<NAME_WIDTH$} Error",
        "# occurrences", "Type", "Name"
    );
    let _ = writeln!(out, "{}", "-".repeat(90));
    for failure in &report.failures {
        let _ = writeln!(
            out,
            "{:>13}  {:<8} {:<NAME_WIDTH$} {}",
            failure.occurrences,
            failure.method,
            truncate(&failure.name),
            failure.error
        );
    }
    out.push('\n');
}

fn thresholds_table(out: &mut String, report: &LoadReport) {
    if report.thresholds.is_empty() {
        return;
    }
    let _ = writeln!(out, "Thresholds");
    for result in &report.thresholds {
        let relation = if result.name == "min-rps" { ">=" } else { "<=" };
        let _ = writeln!(
            out,
            "  {} {:<11} {:.3} {} (limit {relation} {} {})",
            if result.passed { "✓" } else { "✗" },
            result.name,
            result.actual,
            result.unit,
            result.limit,
            result.unit
        );
    }
    let _ = writeln!(
        out,
        "{}",
        if report.passed {
            "All thresholds passed."
        } else {
            "A threshold failed."
        }
    );
}

/// Milliseconds: whole above 100, one decimal above 10, two below.
fn ms(value: f64) -> String {
    if !value.is_finite() {
        "n/a".to_string()
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn truncate(name: &str) -> String {
    if name.chars().count() <= NAME_WIDTH {
        name.to_string()
    } else {
        let kept: String = name.chars().take(NAME_WIDTH - 1).collect();
        format!("{kept}…")
    }
}
