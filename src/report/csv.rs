//! Locust's CSV files (`--csv PREFIX`): `PREFIX_stats.csv`, `PREFIX_stats_history.csv` and
//! `PREFIX_failures.csv`, with Locust 2.x's column names so existing tooling reads them.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::load::{LoadReport, RequestRow, percentile_label};
use crate::swarm::collector::PERCENTILES;

pub fn write_all(report: &LoadReport, prefix: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let paths = [
        with_suffix(prefix, "_stats.csv"),
        with_suffix(prefix, "_stats_history.csv"),
        with_suffix(prefix, "_failures.csv"),
    ];
    write_file(&paths[0], |w| stats(report, w))?;
    write_file(&paths[1], |w| history(report, w))?;
    write_file(&paths[2], |w| failures(report, w))?;
    Ok(paths.to_vec())
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<std::fs::File>) -> csv::Result<()>,
) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path)
        .with_context(|| format!("cannot write {} (check the --csv prefix)", path.display()))?;
    fill(&mut writer).with_context(|| format!("writing {}", path.display()))?;
    writer
        .flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn percentile_headers() -> impl Iterator<Item = String> {
    PERCENTILES
        .iter()
        .map(|&q| format!("{}%", percentile_label(q)))
}

fn stats(report: &LoadReport, w: &mut csv::Writer<std::fs::File>) -> csv::Result<()> {
    let mut header: Vec<String> = [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ]
    .map(String::from)
    .to_vec();
    header.extend(percentile_headers());
    w.write_record(&header)?;
    for row in report
        .requests
        .iter()
        .chain(std::iter::once(&report.aggregated))
    {
        let mut record = vec![
            row.method.clone(),
            row.name.clone(),
            row.requests.to_string(),
            row.failures.to_string(),
            number(row.median_ms),
            number(row.average_ms),
            number(row.min_ms),
            number(row.max_ms),
            number(row.average_content_size),
            number(row.requests_per_s),
            number(row.failures_per_s),
        ];
        record.extend(percentile_values(row));
        w.write_record(&record)?;
    }
    Ok(())
}

fn percentile_values(row: &RequestRow) -> Vec<String> {
    if row.requests == 0 {
        return PERCENTILES.iter().map(|_| "N/A".to_string()).collect();
    }
    PERCENTILES
        .iter()
        .map(|&q| number(row.percentile(&percentile_label(q))))
        .collect()
}

fn history(report: &LoadReport, w: &mut csv::Writer<std::fs::File>) -> csv::Result<()> {
    let mut header: Vec<String> = [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ]
    .map(String::from)
    .to_vec();
    header.extend(percentile_headers());
    header.extend(
        [
            "Total Request Count",
            "Total Failure Count",
            "Total Median Response Time",
            "Total Average Response Time",
            "Total Min Response Time",
            "Total Max Response Time",
            "Total Average Content Size",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for row in &report.history {
        let mut record = vec![
            row.timestamp.to_string(),
            row.users.to_string(),
            String::new(),
            "Aggregated".to_string(),
            format!("{:.6}", row.current_rps),
            format!("{:.6}", row.current_fail_per_s),
        ];
        if row.total_requests == 0 {
            record.extend(PERCENTILES.iter().map(|_| "N/A".to_string()));
        } else {
            record.extend(row.current_percentiles_ms.iter().map(|&v| number(v)));
        }
        record.extend([
            row.total_requests.to_string(),
            row.total_failures.to_string(),
            number(row.total_median_ms),
            number(row.total_average_ms),
            number(row.total_min_ms),
            number(row.total_max_ms),
            number(row.total_average_content_size),
        ]);
        w.write_record(&record)?;
    }
    Ok(())
}

fn failures(report: &LoadReport, w: &mut csv::Writer<std::fs::File>) -> csv::Result<()> {
    w.write_record([
        "Method",
        "Name",
        "Error",
        "Occurrences",
        "First Seen",
        "Last Seen",
    ])?;
    for failure in &report.failures {
        w.write_record([
            failure.method.clone(),
            failure.name.clone(),
            failure.error.clone(),
            failure.occurrences.to_string(),
            super::utc_timestamp(failure.first_seen_unix),
            super::utc_timestamp(failure.last_seen_unix),
        ])?;
    }
    Ok(())
}

/// Milliseconds and rates with enough digits, without float noise.
/// An empty cell for a value the engine did not report (NaN).
fn number(value: f64) -> String {
    if !value.is_finite() {
        return String::new();
    }
    let rounded = (value * 1e3).round() / 1e3;
    format!("{rounded}")
}
