//! The two views of a [`Snapshot`]: Prometheus text exposition 0.0.4 and the JSON summary.

use std::fmt::{self, Write};

use serde::Serialize;

use super::metrics::{BUCKET_BOUNDS_NANOS, SeriesSnapshot, Snapshot};

pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders the Prometheus text format. Label values come from closed sets (see
/// [`super::metrics::Route`]), so none needs escaping.
pub fn prometheus(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(1024 + snapshot.series.len() * 2048);
    write_prometheus(&mut out, snapshot).expect("writing to a String cannot fail");
    out
}

fn write_prometheus(out: &mut String, s: &Snapshot) -> fmt::Result {
    header(
        out,
        "thidwick_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route and status.",
    )?;
    for series in &s.series {
        writeln!(
            out,
            "thidwick_http_requests_total{{{}}} {}",
            labels(series),
            series.count()
        )?;
    }

    let histogram = "thidwick_http_request_duration_seconds";
    header(
        out,
        histogram,
        "histogram",
        "Time from request arrival to response ready, including time queued for capacity.",
    )?;
    for series in &s.series {
        let labels = labels(series);
        let mut cumulative = 0;
        for (bucket, &count) in series.buckets.iter().enumerate() {
            cumulative += count;
            match BUCKET_BOUNDS_NANOS.get(bucket) {
                Some(&bound) => writeln!(
                    out,
                    "{histogram}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                    seconds(bound)
                )?,
                None => writeln!(
                    out,
                    "{histogram}_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
                )?,
            }
        }
        writeln!(
            out,
            "{histogram}_sum{{{labels}}} {}",
            series.sum.as_secs_f64()
        )?;
        writeln!(out, "{histogram}_count{{{labels}}} {cumulative}")?;
    }

    let samples: [(&str, &str, &str, String); 5] = [
        (
            "thidwick_http_requests_in_flight",
            "gauge",
            "Requests to /hello admitted and not yet answered: in service plus queued.",
            s.in_flight.to_string(),
        ),
        (
            "thidwick_http_requests_queued",
            "gauge",
            "Requests to /hello waiting for a service slot.",
            s.queued.to_string(),
        ),
        (
            "thidwick_http_requests_rejected_total",
            "counter",
            "Requests to /hello answered 503 at once because the queue was full.",
            s.rejected.to_string(),
        ),
        (
            "thidwick_capacity_concurrency",
            "gauge",
            "Requests to /hello served at once; 0 means unlimited.",
            s.concurrency.to_string(),
        ),
        (
            "thidwick_capacity_work_time_seconds",
            "gauge",
            "Time each request to /hello holds its service slot.",
            s.work_time.as_secs_f64().to_string(),
        ),
    ];
    for (name, kind, help, value) in samples {
        header(out, name, kind, help)?;
        writeln!(out, "{name} {value}")?;
    }
    Ok(())
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) -> fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

fn labels(series: &SeriesSnapshot) -> String {
    format!(
        "method=\"{}\",route=\"{}\",status=\"{}\"",
        series.method,
        series.route.label(),
        series.status
    )
}

/// `500000` → `0.0005`: Rust prints the shortest form that reads back exactly, as Prometheus
/// clients do, so `le` values look like everyone else's (`1`, not `1.0`).
fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

#[derive(Serialize)]
struct JsonView<'a> {
    uptime_seconds: f64,
    in_flight: u64,
    queued: u64,
    capacity: JsonCapacity,
    requests: Vec<JsonRequests<'a>>,
    rejected: u64,
}

#[derive(Serialize)]
struct JsonCapacity {
    concurrency: usize,
    work_time_seconds: f64,
    max_queue: usize,
}

#[derive(Serialize)]
struct JsonRequests<'a> {
    method: &'a str,
    route: &'a str,
    status: u16,
    count: u64,
    duration_seconds_sum: f64,
}

/// Renders the compact JSON summary served on `/metrics`.
pub fn json(s: &Snapshot) -> String {
    let view = JsonView {
        uptime_seconds: s.uptime.as_secs_f64(),
        in_flight: s.in_flight,
        queued: s.queued,
        capacity: JsonCapacity {
            concurrency: s.concurrency,
            work_time_seconds: s.work_time.as_secs_f64(),
            max_queue: s.max_queue,
        },
        requests: s
            .series
            .iter()
            .map(|series| JsonRequests {
                method: series.method,
                route: series.route.label(),
                status: series.status,
                count: series.count(),
                duration_seconds_sum: series.sum.as_secs_f64(),
            })
            .collect(),
        rejected: s.rejected,
    };
    serde_json::to_string(&view).expect("the JSON view has only plain fields")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::metrics::{BUCKETS, Route};
    use super::*;

    fn known_state() -> Snapshot {
        let mut buckets = [0; BUCKETS];
        buckets[1] = 2; // two requests at or under 1 ms
        buckets[14] = 1; // one above 10 s
        Snapshot {
            uptime: Duration::from_millis(1500),
            in_flight: 3,
            queued: 1,
            rejected: 4,
            concurrency: 2,
            work_time: Duration::from_millis(10),
            max_queue: 100,
            series: vec![SeriesSnapshot {
                method: "GET",
                route: Route::Hello,
                status: 200,
                buckets,
                sum: Duration::from_millis(12_500),
            }],
        }
    }

    #[test]
    fn prometheus_text_for_a_known_state() {
        let l = r#"method="GET",route="/hello",status="200""#;
        let h = "thidwick_http_request_duration_seconds";
        let mut expected = String::from(
            "# HELP thidwick_http_requests_total HTTP requests answered, by method, route and status.\n\
             # TYPE thidwick_http_requests_total counter\n",
        );
        expected += &format!("thidwick_http_requests_total{{{l}}} 3\n");
        expected += &format!(
            "# HELP {h} Time from request arrival to response ready, including time queued for capacity.\n\
             # TYPE {h} histogram\n"
        );
        let cumulative = [
            ("0.0005", 0),
            ("0.001", 2),
            ("0.0025", 2),
            ("0.005", 2),
            ("0.01", 2),
            ("0.025", 2),
            ("0.05", 2),
            ("0.1", 2),
            ("0.25", 2),
            ("0.5", 2),
            ("1", 2),
            ("2.5", 2),
            ("5", 2),
            ("10", 2),
            ("+Inf", 3),
        ];
        for (le, count) in cumulative {
            expected += &format!("{h}_bucket{{{l},le=\"{le}\"}} {count}\n");
        }
        expected += &format!("{h}_sum{{{l}}} 12.5\n{h}_count{{{l}}} 3\n");
        expected += "\
# HELP thidwick_http_requests_in_flight Requests to /hello admitted and not yet answered: in service plus queued.
# TYPE thidwick_http_requests_in_flight gauge
thidwick_http_requests_in_flight 3
# HELP thidwick_http_requests_queued Requests to /hello waiting for a service slot.
# TYPE thidwick_http_requests_queued gauge
thidwick_http_requests_queued 1
# HELP thidwick_http_requests_rejected_total Requests to /hello answered 503 at once because the queue was full.
# TYPE thidwick_http_requests_rejected_total counter
thidwick_http_requests_rejected_total 4
# HELP thidwick_capacity_concurrency Requests to /hello served at once; 0 means unlimited.
# TYPE thidwick_capacity_concurrency gauge
thidwick_capacity_concurrency 2
# HELP thidwick_capacity_work_time_seconds Time each request to /hello holds its service slot.
# TYPE thidwick_capacity_work_time_seconds gauge
thidwick_capacity_work_time_seconds 0.01
";
        assert_eq!(prometheus(&known_state()), expected);
    }

    #[test]
    fn json_for_a_known_state() {
        assert_eq!(
            json(&known_state()),
            r#"{"uptime_seconds":1.5,"in_flight":3,"queued":1,"capacity":{"concurrency":2,"work_time_seconds":0.01,"max_queue":100},"requests":[{"method":"GET","route":"/hello","status":200,"count":3,"duration_seconds_sum":12.5}],"rejected":4}"#
        );
    }

    #[test]
    fn empty_state_still_has_every_family_header() {
        let mut state = known_state();
        state.series.clear();
        let text = prometheus(&state);
        assert!(text.contains("# TYPE thidwick_http_requests_total counter\n"));
        assert!(text.contains("# TYPE thidwick_http_request_duration_seconds histogram\n"));
        assert!(!text.contains("_bucket"));
    }
}
