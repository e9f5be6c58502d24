//! The tables of one load report: statistics per request and aggregated, percentiles,
//! failures, thresholds. A slam shows the same tables for each of its steps.

use super::markup::{Align, Table, escape, num, percent, setting};
use crate::report::load::{LoadReport, RequestRow, percentile_label};
use crate::swarm::collector::PERCENTILES;

/// Statistics, percentiles and failures; `heading` is the tag for the section titles (h2 on a
/// load page, h4 inside a slam step).
pub fn all(report: &LoadReport, heading: &str) -> String {
    let mut html = format!(
        "<{heading}>Requests</{heading}>{}<{heading}>Response time percentiles (ms)</{heading}>{}\
         <{heading}>Failures</{heading}>{}",
        stats(report),
        percentiles(report),
        failures(report)
    );
    if !report.thresholds.is_empty() {
        html.push_str(&format!(
            "<{heading}>Thresholds</{heading}>{}",
            thresholds(report)
        ));
    }
    html
}

fn rows(report: &LoadReport) -> impl Iterator<Item = (&RequestRow, &'static str)> {
    report
        .requests
        .iter()
        .map(|row| (row, ""))
        .chain([(&report.aggregated, " class=\"total\"")])
}

fn stats(report: &LoadReport) -> String {
    use Align::{Left, Right};
    let mut table = Table::new(
        "stats",
        &[
            ("Type", Left),
            ("Name", Left),
            ("# reqs", Right),
            ("# fails", Right),
            ("Avg (ms)", Right),
            ("Min (ms)", Right),
            ("Max (ms)", Right),
            ("Med (ms)", Right),
            ("p95 (ms)", Right),
            ("p99 (ms)", Right),
            ("req/s", Right),
            ("failures/s", Right),
            ("Avg size (B)", Right),
        ],
    );
    for (row, attrs) in rows(report) {
        let fails = if row.failures > 0 {
            format!(
                "<span class=\"bad\">{} ({})</span>",
                row.failures,
                percent(row.fail_ratio())
            )
        } else {
            "0".to_string()
        };
        table.row(
            attrs,
            &[
                escape(&row.method),
                format!("<span class=\"name\">{}</span>", escape(&row.name)),
                row.requests.to_string(),
                fails,
                num(row.average_ms),
                num(row.min_ms),
                num(row.max_ms),
                num(row.median_ms),
                num(row.percentile("95")),
                num(row.percentile("99")),
                format!("{:.2}", row.requests_per_s),
                format!("{:.2}", row.failures_per_s),
                format!("{:.0}", row.average_content_size),
            ],
        );
    }
    table.finish()
}

fn percentiles(report: &LoadReport) -> String {
    let labels: Vec<String> = PERCENTILES.iter().map(|&q| percentile_label(q)).collect();
    let headers: Vec<String> = labels.iter().map(|l| format!("{l}%")).collect();
    let mut columns = vec![("Type", Align::Left), ("Name", Align::Left)];
    columns.extend(headers.iter().map(|h| (h.as_str(), Align::Right)));
    columns.push(("# reqs", Align::Right));
    let mut table = Table::new("percentiles", &columns);
    for (row, attrs) in rows(report) {
        let mut cells = vec![
            escape(&row.method),
            format!("<span class=\"name\">{}</span>", escape(&row.name)),
        ];
        cells.extend(labels.iter().map(|label| num(row.percentile(label))));
        cells.push(row.requests.to_string());
        table.row(attrs, &cells);
    }
    table.finish()
}

fn failures(report: &LoadReport) -> String {
    if report.failures.is_empty() {
        return "<p class=\"none\">No failures.</p>".to_string();
    }
    let mut table = Table::new(
        "failures",
        &[
            ("# occurrences", Align::Right),
            ("Type", Align::Left),
            ("Name", Align::Left),
            ("Cause", Align::Left),
            ("Error", Align::Left),
        ],
    );
    for failure in &report.failures {
        table.row(
            "",
            &[
                failure.occurrences.to_string(),
                escape(&failure.method),
                format!("<span class=\"name\">{}</span>", escape(&failure.name)),
                escape(failure.cause),
                format!("<code>{}</code>", escape(&failure.error)),
            ],
        );
    }
    table.finish()
}

fn thresholds(report: &LoadReport) -> String {
    let mut table = Table::new(
        "thresholds",
        &[
            ("", Align::Left),
            ("Threshold", Align::Left),
            ("Actual", Align::Right),
            ("Limit", Align::Right),
        ],
    );
    for result in &report.thresholds {
        // Only min-rps is a floor; the others are ceilings (see thresholds.rs).
        let relation = if result.name == "min-rps" {
            "≥"
        } else {
            "≤"
        };
        let (mark, class) = if result.passed {
            ("✓", " class=\"met\"")
        } else {
            ("✗", " class=\"broke\"")
        };
        table.row(
            class,
            &[
                mark.to_string(),
                escape(result.name),
                quantity(result.actual, result.unit, num),
                format!(
                    "{relation} {}",
                    quantity(result.limit, result.unit, setting)
                ),
            ],
        );
    }
    table.finish()
}

/// A threshold's figure with its unit; ratios read better as percentages.
fn quantity(value: f64, unit: &str, format: fn(f64) -> String) -> String {
    if unit == "ratio" {
        format!("{}%", format(value * 100.0))
    } else {
        format!("{} {}", format(value), escape(unit))
    }
}
