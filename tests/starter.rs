//! `thidwick-starter` run as a binary on 127.0.0.1: routes, counters, injected failures, the
//! capacity knob, flag errors and graceful shutdown. Time is only ever bounded from below.

mod common;

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::support;
use common::{Starter, http_get, http_request, prometheus_value, read_response, send_request};
use serde_json::Value;
use support::{requests_total, scrape};

const HELLO: &str = "Hello, my name is starter.";

fn hello_duration(text: &str, sample: &str) -> f64 {
    let series = format!(
        "thidwick_http_request_duration_seconds_{sample}{{method=\"GET\",route=\"/hello\",status=\"200\"}}"
    );
    prometheus_value(text, &series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

fn json_metrics(starter: &Starter) -> Value {
    let (status, body) = http_get(starter.addr(), "/metrics");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/metrics is not JSON ({e}): {body}"))
}

/// Polls `/metrics` until `ready` holds, at most about ten seconds.
fn wait_for_metrics(starter: &Starter, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let metrics = json_metrics(starter);
        if ready(&metrics) {
            return metrics;
        }
        thread::sleep(Duration::from_millis(25));
    }
    panic!("never saw {what} in /metrics: {}", json_metrics(starter));
}

#[test]
fn hello_answers_the_greeting() {
    let starter = Starter::spawn(&[]);
    assert!(starter.url().starts_with("http://127.0.0.1:"));
    assert_eq!(http_get(starter.addr(), "/hello"), (200, HELLO.to_owned()));
}

#[test]
fn counters_match_the_requests_sent() {
    let starter = Starter::spawn(&[]);
    for _ in 0..7 {
        assert_eq!(http_get(starter.addr(), "/hello").0, 200);
    }
    json_metrics(&starter);
    json_metrics(&starter);

    let text = scrape(&starter);
    assert_eq!(requests_total(&text, "GET", "/hello", 200), 7.0, "{text}");
    assert_eq!(requests_total(&text, "GET", "/metrics", 200), 2.0, "{text}");
    assert_eq!(hello_duration(&text, "count"), 7.0);
    let inf = r#"thidwick_http_request_duration_seconds_bucket{method="GET",route="/hello",status="200",le="+Inf"}"#;
    assert_eq!(prometheus_value(&text, inf), Some(7.0));
    assert!(text.contains("# TYPE thidwick_http_request_duration_seconds histogram\n"));
    assert_eq!(
        prometheus_value(&text, "thidwick_http_requests_in_flight"),
        Some(0.0)
    );
    assert_eq!(
        prometheus_value(&text, "thidwick_http_requests_rejected_total"),
        Some(0.0)
    );

    // The JSON view counts the same, and now the first scrape too.
    let metrics = json_metrics(&starter);
    let requests = metrics["requests"].as_array().expect("a requests list");
    let count_of = |route: &str| {
        requests
            .iter()
            .find(|r| r["route"] == route && r["status"] == 200 && r["method"] == "GET")
            .and_then(|r| r["count"].as_u64())
    };
    assert_eq!(count_of("/hello"), Some(7), "{metrics}");
    assert_eq!(count_of("/metrics"), Some(2), "{metrics}");
    assert_eq!(count_of("/metrics/prometheus"), Some(1), "{metrics}");
    assert_eq!(metrics["capacity"]["max_queue"], 10_000);
    assert!(metrics["uptime_seconds"].as_f64().is_some_and(|s| s > 0.0));
}

#[test]
fn fail_ratio_fails_an_exact_share() {
    let starter = Starter::spawn(&["--fail-ratio", "0.25"]);
    let mut failed = 0;
    for _ in 0..100 {
        match http_get(starter.addr(), "/hello") {
            (200, body) => assert_eq!(body, HELLO),
            (500, _) => failed += 1,
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!(failed, 25);
    let text = scrape(&starter);
    assert_eq!(requests_total(&text, "GET", "/hello", 500), 25.0, "{text}");
    assert_eq!(requests_total(&text, "GET", "/hello", 200), 75.0, "{text}");
}

#[test]
fn over_capacity_requests_queue_and_the_histogram_shows_it() {
    let starter = Starter::spawn(&["--concurrency", "1", "--work-time", "50ms"]);
    // All four are in the server before any answer is read: one in service, three queued.
    let pending: Vec<_> = (0..4)
        .map(|_| send_request(starter.addr(), "GET", "/hello"))
        .collect();
    for connection in pending {
        assert_eq!(read_response(connection), (200, HELLO.to_owned()));
    }
    let text = scrape(&starter);
    assert_eq!(hello_duration(&text, "count"), 4.0);
    // One slot of 50 ms: queued, they finish about 50, 100, 150 and 200 ms after the first
    // starts — a sum near 0.5 s, less the few ms between the sends and the at most 5 ms a
    // hand-over may catch up. Unqueued they would sum to 0.2 s.
    let sum = hello_duration(&text, "sum");
    assert!(
        sum >= 0.4,
        "duration sum {sum} s is below 0.4 s: no queueing:\n{text}"
    );
    assert_eq!(
        prometheus_value(&text, "thidwick_capacity_concurrency"),
        Some(1.0)
    );
    assert_eq!(
        prometheus_value(&text, "thidwick_capacity_work_time_seconds"),
        Some(0.05)
    );
}

#[test]
fn full_queue_rejects_at_once_and_metrics_never_wait() {
    let starter = Starter::spawn(&[
        "--concurrency",
        "1",
        "--work-time",
        "60s",
        "--max-queue",
        "1",
    ]);
    let _in_service = send_request(starter.addr(), "GET", "/hello");
    // /metrics answers while the only slot is taken for a minute: it does not queue behind it.
    wait_for_metrics(&starter, "one request in service", |m| {
        m["in_flight"] == 1 && m["queued"] == 0
    });
    let _queued = send_request(starter.addr(), "GET", "/hello");
    wait_for_metrics(&starter, "one request queued", |m| {
        m["in_flight"] == 2 && m["queued"] == 1
    });

    let (status, _) = http_get(starter.addr(), "/hello");
    assert_eq!(status, 503);
    let text = scrape(&starter);
    assert_eq!(
        prometheus_value(&text, "thidwick_http_requests_rejected_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(requests_total(&text, "GET", "/hello", 503), 1.0, "{text}");
    assert_eq!(
        prometheus_value(&text, "thidwick_http_requests_queued"),
        Some(1.0)
    );
    assert_eq!(json_metrics(&starter)["rejected"], 1);
}

#[test]
fn unknown_paths_are_404_and_other_methods_405() {
    let starter = Starter::spawn(&[]);
    assert_eq!(
        http_get(starter.addr(), "/nope"),
        (404, "not found".to_owned())
    );
    assert_eq!(http_request(starter.addr(), "POST", "/hello").0, 405);
    assert_eq!(http_request(starter.addr(), "DELETE", "/metrics").0, 405);
    assert_eq!(http_request(starter.addr(), "POST", "/nope").0, 404);

    let text = scrape(&starter);
    assert_eq!(requests_total(&text, "GET", "other", 404), 1.0, "{text}");
    assert_eq!(requests_total(&text, "POST", "other", 404), 1.0, "{text}");
    assert_eq!(requests_total(&text, "POST", "/hello", 405), 1.0, "{text}");
    assert_eq!(
        requests_total(&text, "DELETE", "/metrics", 405),
        1.0,
        "{text}"
    );
    assert!(
        !text.contains("/nope"),
        "unknown paths must not become label values"
    );
}

#[test]
fn environment_variables_configure_it() {
    let starter = Starter::spawn_with_env(
        &[],
        &[
            ("THIDWICK_FAIL_RATIO", "1"),
            ("THIDWICK_FAIL_STATUS", "503"),
            ("THIDWICK_CONCURRENCY", "3"),
            ("THIDWICK_WORK_TIME", "1ms"),
        ],
    );
    assert_eq!(http_get(starter.addr(), "/hello").0, 503);
    let text = scrape(&starter);
    assert_eq!(
        prometheus_value(&text, "thidwick_capacity_concurrency"),
        Some(3.0)
    );
    assert_eq!(
        prometheus_value(&text, "thidwick_capacity_work_time_seconds"),
        Some(0.001)
    );
    assert_eq!(requests_total(&text, "GET", "/hello", 503), 1.0, "{text}");
}

#[test]
fn bad_flag_values_exit_2_with_one_line_naming_flag_and_fix() {
    let ratio_fix = "between 0 and 1";
    assert_refused(&["--fail-ratio", "1.5"], &[], "--fail-ratio", ratio_fix);
    assert_refused(&["--fail-ratio", "-0.1"], &[], "--fail-ratio", ratio_fix);
    assert_refused(
        &[],
        &[("THIDWICK_FAIL_RATIO", "2")],
        "--fail-ratio",
        ratio_fix,
    );
    assert_refused(
        &["--work-time", "10parsecs"],
        &[],
        "--work-time",
        "use ms, s",
    );
    assert_refused(&["--listen", "nowhere"], &[], "--listen", "IP:PORT");
    assert_refused(
        &["--fail-status", "700"],
        &[],
        "--fail-status",
        "between 400 and 599",
    );
}

/// The binary refuses the configuration: exit 2, nothing on stdout, and one message naming the
/// flag and the fix (clap adds only its pointer to --help, no usage dump).
fn assert_refused(args: &[&str], env: &[(&str, &str)], flag: &str, fix: &str) {
    let output = common::starter_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
    let mut lines = stderr.lines().filter(|line| !line.trim().is_empty());
    let message = lines.next().unwrap_or_default();
    assert!(message.contains(flag), "{args:?}: {message}");
    assert!(message.contains(fix), "{args:?}: {message}");
    assert!(
        lines.all(|line| line.contains("--help")),
        "{args:?}: {stderr}"
    );
}

#[test]
fn a_taken_port_is_a_one_line_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = common::starter_command()
        .args(["--listen", &address])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}

#[test]
fn sigterm_lets_the_request_in_service_finish_then_exits_0() {
    let starter = Starter::spawn(&["--concurrency", "1", "--work-time", "300ms"]);
    let in_service = send_request(starter.addr(), "GET", "/hello");
    wait_for_metrics(&starter, "one request in service", |m| m["in_flight"] == 1);
    let status = starter.terminate();
    assert_eq!(status.code(), Some(0), "{status}");
    assert_eq!(read_response(in_service), (200, HELLO.to_owned()));
}
