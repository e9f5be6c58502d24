//! `thidctl load` run as a user runs it, against the stand-in service and small misbehaving
//! servers, all on 127.0.0.1 with ephemeral ports. Every run is bounded by iterations or time.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use common::Starter;
use common::support;
use serde_json::Value;
use support::{assert_exit, free_addr, hello_count, json_of, thidctl};

fn load(args: &[&str]) -> Output {
    support::run_thidctl("load", args)
}

fn failures_by_cause(report: &Value) -> Vec<(String, u64)> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["cause"].as_str().unwrap().to_string(),
                f["occurrences"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn counts_add_up_with_the_service() {
    let starter = Starter::spawn(&[]);
    let output = load(&[
        "--host",
        &starter.url(),
        "--path",
        "/hello",
        "--users",
        "10",
        "--spawn-rate",
        "100",
        "--iterations",
        "500",
        "--output",
        "json",
    ]);
    assert_exit(&output, 0);
    let report = json_of(&output);
    assert_eq!(report["aggregated"]["requests"], 500);
    assert_eq!(report["aggregated"]["failures"], 0);
    assert_eq!(report["requests"][0]["name"], "/hello");
    assert_eq!(report["requests"][0]["average_content_size"], 26.0);
    assert_eq!(report["end"], "iterations");
    assert_eq!(hello_count(&starter, 200), 500.0);
}

#[test]
fn json_output_matches_the_committed_schema() {
    let starter = Starter::spawn(&["--fail-ratio", "0.1"]);
    let url = starter.url();
    for extra in [
        &["--users", "4"][..],
        &["--users", "4", "--rate", "200/s"][..],
    ] {
        let mut args = vec![
            "--host",
            &url,
            "--path",
            "/hello",
            "--run-time",
            "1500ms",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        let report = json_of(&load(&args));
        let errors = support::load_report_schema_errors(&report);
        assert!(errors.is_empty(), "{extra:?}: {errors:#?}");
        assert!(!report["history"].as_array().unwrap().is_empty());
    }
}

#[test]
fn injected_failures_are_counted_by_status() {
    let starter = Starter::spawn(&["--fail-ratio", "0.25"]);
    let output = load(&[
        "--host",
        &starter.url(),
        "--path",
        "/hello",
        "--users",
        "2",
        "--iterations",
        "200",
        "--output",
        "json",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "no threshold given: failures alone do not fail the run"
    );
    let report = json_of(&output);
    assert_eq!(report["aggregated"]["requests"], 200);
    assert_eq!(report["aggregated"]["failures"], 50);
    assert_eq!(failures_by_cause(&report), vec![("status".to_string(), 50)]);
    assert_eq!(
        report["failures"][0]["error"],
        "HTTP 500 Internal Server Error"
    );
    assert_eq!(hello_count(&starter, 500), 50.0);
}

#[test]
fn thresholds_decide_the_exit_code() {
    let starter = Starter::spawn(&["--fail-ratio", "0.25"]);
    let url = starter.url();
    let base = [
        "--host",
        &url,
        "--path",
        "/hello",
        "--users",
        "2",
        "--iterations",
        "100",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        if !extra.contains(&"--output") {
            args.extend(["--output", "json"]);
        }
        load(&args)
    };
    assert_eq!(
        run(&[
            "--fail-ratio",
            "0.3",
            "--max-p95",
            "60s",
            "--max-p99",
            "60s"
        ])
        .status
        .code(),
        Some(0)
    );
    let failed = run(&["--fail-ratio", "0.1"]);
    assert_eq!(failed.status.code(), Some(1));
    let report = json_of(&failed);
    assert_eq!(report["passed"], false);
    assert_eq!(report["thresholds"][0]["name"], "fail-ratio");
    assert_eq!(report["thresholds"][0]["actual"], 0.25);
    assert_eq!(run(&["--min-rps", "1000000000"]).status.code(), Some(1));
    let text = run(&["--fail-ratio", "0.1", "--output", "text"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("✗ fail-ratio"));
}

#[test]
fn csv_files_have_locust_columns() {
    let starter = Starter::spawn(&["--fail-ratio", "0.5"]);
    let directory = tempfile::tempdir().unwrap();
    let prefix = directory.path().join("run");
    let output = load(&[
        "--host",
        &starter.url(),
        "--path",
        "/hello",
        "--users",
        "2",
        "--run-time",
        "2500ms",
        "--csv",
        prefix.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let read = |suffix: &str| {
        let mut reader = csv::Reader::from_path(format!("{}{suffix}", prefix.display())).unwrap();
        let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        (headers, rows)
    };
    let percentiles = [
        "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
    ];
    let (headers, rows) = read("_stats.csv");
    let mut expected = vec![
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
    ];
    expected.extend(percentiles);
    assert_eq!(headers, expected);
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][1], "Aggregated");
    let requests: u64 = rows[1][2].parse().unwrap();
    let failures: u64 = rows[1][3].parse().unwrap();
    // Every other request fails at the service; the two users' requests cut off at the end
    // may shift the count by a couple.
    assert!(
        requests > 0 && requests.abs_diff(failures * 2) <= 4,
        "{requests} {failures}"
    );

    let (headers, rows) = read("_stats_history.csv");
    let mut expected = vec![
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ];
    expected.extend(percentiles);
    expected.extend([
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]);
    assert_eq!(headers, expected);
    assert!(rows.len() >= 2, "one row a second, {} rows", rows.len());

    let (headers, rows) = read("_failures.csv");
    assert_eq!(
        headers,
        [
            "Method",
            "Name",
            "Error",
            "Occurrences",
            "First Seen",
            "Last Seen"
        ]
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][2], "HTTP 500 Internal Server Error");
}

/// A server that accepts and then misbehaves: `hang` keeps the connection silent, otherwise
/// it closes without answering (a reset, since the request sits unread).
fn misbehaving_server(hang: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(10_000) {
            let Ok(stream) = stream else { continue };
            if hang {
                held.push(stream);
            } else {
                thread::sleep(Duration::from_millis(5));
                drop(stream);
            }
        }
    });
    port
}

fn single_cause(args: &[&str]) -> (Value, Vec<(String, u64)>) {
    let mut all = vec!["--path", "/hello", "--users", "2", "--output", "json"];
    all.extend_from_slice(args);
    let output = load(&all);
    assert_exit(&output, 0);
    let report = json_of(&output);
    let causes = failures_by_cause(&report);
    (report, causes)
}

#[test]
fn refused_connections_are_failures_and_the_run_goes_on() {
    let url = format!("http://{}", free_addr());
    let (report, causes) = single_cause(&["--host", &url, "--iterations", "40"]);
    assert_eq!(report["aggregated"]["requests"], 40);
    assert_eq!(causes, vec![("connection_refused".to_string(), 40)]);
    let thresholds = load(&[
        "--host",
        &url,
        "--path",
        "/",
        "--iterations",
        "5",
        "--fail-ratio",
        "0",
        "--output",
        "json",
    ]);
    assert_eq!(thresholds.status.code(), Some(1));
}

#[test]
fn resets_are_failures_by_cause() {
    let url = format!("http://127.0.0.1:{}", misbehaving_server(false));
    let (_, causes) = single_cause(&["--host", &url, "--iterations", "20"]);
    assert_eq!(causes, vec![("connection_reset".to_string(), 20)]);
}

#[test]
fn silent_servers_time_out() {
    let url = format!("http://127.0.0.1:{}", misbehaving_server(true));
    let (_, causes) = single_cause(&["--host", &url, "--iterations", "4", "--timeout", "200ms"]);
    assert_eq!(causes, vec![("timeout".to_string(), 4)]);
}

#[test]
fn unresolvable_hosts_are_dns_failures() {
    // In a network namespace of its own, with no interface up, the resolver fails at once and
    // nothing leaves the machine.
    let output = Command::new("unshare")
        .args([
            "--net",
            env!("CARGO_BIN_EXE_thidctl"),
            "load",
            "--host",
            "http://thidctl-test.invalid:8080",
        ])
        .args(["--path", "/hello", "--iterations", "3", "--output", "json"])
        .output()
        .expect("unshare (util-linux) runs; the tests run as root");
    assert_exit(&output, 0);
    assert_eq!(
        failures_by_cause(&json_of(&output)),
        vec![("dns".to_string(), 3)]
    );
}

#[test]
fn bad_input_is_one_line_exit_2_and_nothing_is_sent() {
    let starter = Starter::spawn(&[]);
    let url = starter.url();
    let directory = tempfile::tempdir().unwrap();
    let malformed = directory.path().join("bad.yaml");
    std::fs::write(&malformed, "requests:\n  - path: hello\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--host", "127.0.0.1:8080"], "--host"),
        (vec!["--host", &url, "--users", "0"], "--users"),
        (vec!["--host", &url, "--spawn-rate", "0"], "--spawn-rate"),
        (vec!["--host", &url, "--spawn-rate", "-2"], "--spawn-rate"),
        (vec!["--host", &url, "--run-time", "5x"], "unknown unit"),
        (vec!["--host", &url, "--rate", "0/s"], "rate"),
        (vec!["--host", &url, "--wait", "5s..1s"], "wait"),
        (
            vec!["--host", &url, "--scenario", malformed.to_str().unwrap()],
            "must start with '/'",
        ),
        (
            vec!["--host", &url, "--scenario", "/nonexistent/scenario.yaml"],
            "cannot read scenario",
        ),
        (vec!["--host", &url, "--fail-ratio", "2"], "--fail-ratio"),
        (
            vec!["--host", &url, "--csv", "/nonexistent/dir/run"],
            "does not exist",
        ),
        (vec!["--path", "/hello"], "no target"),
    ];
    for (args, expected) in cases {
        let mut all = args.clone();
        all.extend(["--iterations", "5"]);
        let stderr = support::assert_refused(&load(&all), &args);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert_eq!(hello_count(&starter, 200), 0.0);
}

#[test]
fn ctrl_c_stops_and_still_reports() {
    let starter = Starter::spawn(&[]);
    let mut child = thidctl()
        .args([
            "load",
            "--host",
            &starter.url(),
            "--path",
            "/hello",
            "--users",
            "3",
            "--wait",
            "10ms",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(1500));
    support::send_signal(&child, "INT");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["end"], "interrupted");
    assert!(report["aggregated"]["requests"].as_u64().unwrap() > 0);
}

#[test]
fn open_model_corrects_for_coordinated_omission() {
    // Capacity 50/s (one slot, 20 ms each) asked for 200/s: requests fall ever further behind
    // their schedule, which the corrected latency shows and the service time does not.
    let starter = Starter::spawn(&["--concurrency", "1", "--work-time", "20ms"]);
    let output = load(&[
        "--host",
        &starter.url(),
        "--path",
        "/hello",
        "--users",
        "4",
        "--rate",
        "200/s",
        "--run-time",
        "2s",
        "--output",
        "json",
    ]);
    assert_exit(&output, 0);
    let report = json_of(&output);
    let open = &report["open_model"];
    assert!(open["late_starts"].as_u64().unwrap() > 0, "{open}");
    assert!(open["not_started"].as_u64().unwrap() > 0, "{open}");
    let corrected = report["aggregated"]["percentiles_ms"]["95"]
        .as_f64()
        .unwrap();
    let service = open["service_time_percentiles_ms"]["95"].as_f64().unwrap();
    assert!(
        corrected > service,
        "corrected p95 {corrected} vs service p95 {service}"
    );
    let sent = report["aggregated"]["requests"].as_u64().unwrap();
    assert!(
        sent < 200,
        "a 50/s service cannot have answered {sent} requests in 2 s"
    );
}

#[test]
fn metrics_endpoint_serves_locust_series_while_running() {
    let starter = Starter::spawn(&[]);
    let address = free_addr().to_string();
    let mut child = thidctl()
        .args([
            "load",
            "--host",
            &starter.url(),
            "--path",
            "/hello",
            "--users",
            "2",
            "--wait",
            "20ms",
        ])
        .args(["--run-time", "4s", "--metrics-listen", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(2500));
    let mut text = String::new();
    if let Ok(mut stream) = TcpStream::connect(&address) {
        use std::io::Write;
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let _ = stream.read_to_string(&mut text);
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(
        common::prometheus_value(&text, "locust_users"),
        Some(2.0),
        "{text}"
    );
    let requests = common::prometheus_value(
        &text,
        "locust_requests_num_requests{method=\"GET\",name=\"/hello\"}",
    );
    assert!(requests.unwrap_or(0.0) > 0.0, "{text}");
    assert!(text.contains(
        "thidctl_request_duration_seconds_bucket{method=\"GET\",name=\"/hello\",le=\"+Inf\"}"
    ));
}

#[test]
fn html_report_is_written_with_its_charts() {
    let starter = Starter::spawn(&[]);
    let directory = tempfile::tempdir().unwrap();
    let page = directory.path().join("load.html");
    let output = load(&[
        "--host",
        &starter.url(),
        "--path",
        "/hello",
        "--users",
        "3",
        "--run-time",
        "2500ms",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_exit(&output, 0);
    let html = std::fs::read_to_string(&page).unwrap();
    for chart in ["users", "rps", "latency"] {
        assert!(
            html.contains(&format!("data-chart=\"{chart}\"")),
            "no {chart} chart"
        );
    }
    assert!(html.contains("/hello"));
    let refused = load(&[
        "--host",
        &starter.url(),
        "--iterations",
        "1",
        "--html",
        "/nonexistent/dir/x.html",
    ]);
    assert_eq!(refused.status.code(), Some(2));
}
