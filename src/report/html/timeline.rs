//! The charts over time — users, throughput, latency — from the once-a-second history, for one
//! run or for several runs laid end to end (a slam's steps).

use super::chart::{Guide, LineChart, colour};
use crate::swarm::collector::{HistoryRow, PERCENTILES};

/// Beyond ten minutes, seconds make long tick labels; minutes read better.
const MINUTES_FROM_S: f64 = 600.0;

/// The three over-time charts. `rows` pairs each history row with its time in seconds on the
/// shared axis; `guides` (step boundaries) are in seconds too.
pub fn charts(rows: &[(f64, &HistoryRow)], guides: &[Guide]) -> String {
    let span = rows.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    let (per_s, x_label) = if span > MINUTES_FROM_S {
        (1.0 / 60.0, "time (min)")
    } else {
        (1.0, "time (s)")
    };
    let line = |value: &dyn Fn(&HistoryRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|(t, row)| (t * per_s, value(row)))
            .collect()
    };
    let percentile = |quantile: f64| {
        let index = PERCENTILES.iter().position(|&q| q == quantile);
        line(&move |row: &HistoryRow| {
            index
                .and_then(|i| row.current_percentiles_ms.get(i).copied())
                .unwrap_or(f64::NAN)
        })
    };
    let guides: Vec<Guide> = guides
        .iter()
        .map(|g| Guide {
            x: g.x * per_s,
            ..g.clone()
        })
        .collect();
    let with_guides = |mut chart: LineChart| {
        chart.guides = guides.clone();
        chart.render()
    };
    [
        LineChart::new("users", "Users", x_label, "users").series(
            "users",
            "users",
            colour::GREEN,
            line(&|row| row.users as f64),
        ),
        LineChart::new(
            "rps",
            "Requests and failures per second",
            x_label,
            "per second",
        )
        .series(
            "rps",
            "requests/s",
            colour::BLUE,
            line(&|row| row.current_rps),
        )
        .series(
            "failures",
            "failures/s",
            colour::VERMILLION,
            line(&|row| row.current_fail_per_s),
        ),
        LineChart::new(
            "latency",
            "Response time percentiles (last 10 s)",
            x_label,
            "ms",
        )
        .series("p50", "p50", colour::BLUE, percentile(0.5))
        .series("p95", "p95", colour::ORANGE, percentile(0.95))
        .series("p99", "p99", colour::VERMILLION, percentile(0.99)),
    ]
    .into_iter()
    .map(with_guides)
    .collect()
}
