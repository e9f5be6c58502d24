//! `thidctl load --engine locust` against a real Locust 2.x master on 127.0.0.1, driven through
//! its web API (no --headless) and aimed at the stand-in service. Needs the `locust` command
//! (pip package `locust`): skipped with a note on a developer machine without it, failed in CI.
//! `THIDCTL_TEST_LOCUST=/usr/bin/locust` runs another installation, e.g. Debian's 2.12.1.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Starter;
use common::support;
use serde_json::Value;
use support::{assert_exit, free_addr, json_of};

/// Locust imports gevent and Flask before it listens; give it more than the starter's wait.
const LOCUST_START: Duration = Duration::from_secs(30);

/// A Locust master with its web UI on a free 127.0.0.1 port, killed and reaped on drop.
struct Locust {
    child: Child,
    addr: SocketAddr,
}

impl Locust {
    /// `None` (after printing why) when Locust is not installed and this is not CI.
    fn spawn(host: &str) -> Option<Locust> {
        if !support::require("locust", locust_installed(), "`pip install locust`") {
            return None;
        }
        let addr = free_addr();
        let locustfile = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/locust/locustfile.py"
        );
        let child = locust_command()
            .args(["-f", locustfile, "--web-host", "127.0.0.1"])
            .args(["--web-port", &addr.port().to_string(), "--host", host])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("locust starts");
        let locust = Locust { child, addr };
        let deadline = Instant::now() + LOCUST_START;
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Locust did not listen on {addr} within {LOCUST_START:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
        Some(locust)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stats(&self) -> Value {
        let (status, body) = common::http_get(self.addr, "/stats/requests");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("stats are JSON")
    }
}

impl Drop for Locust {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn locust_command() -> Command {
    Command::new(std::env::var_os("THIDCTL_TEST_LOCUST").unwrap_or("locust".into()))
}

fn locust_installed() -> bool {
    locust_command()
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn load(locust_url: &str, args: &[&str]) -> Output {
    let engine = ["--engine", "locust", "--locust-url", locust_url];
    support::run_thidctl("load", &[&engine[..], args].concat())
}

const RUN: [&str; 8] = [
    "--users",
    "5",
    "--spawn-rate",
    "5",
    "--run-time",
    "5s",
    "--output",
    "json",
];

#[test]
fn drives_a_real_locust_and_reports_its_numbers() {
    let starter = Starter::spawn(&[]);
    let Some(locust) = Locust::spawn(&starter.url()) else {
        return;
    };

    let client = thidctl::locust::LocustClient::new(&locust.url()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (generation, host) = runtime.block_on(async {
        (
            client.generation().await.unwrap(),
            client.target_host().await.unwrap(),
        )
    });
    assert_eq!(generation, thidctl::locust::ApiGeneration::Modern);
    assert_eq!(host, Some(starter.url()));

    let started = Instant::now();
    let output = load(&locust.url(), &RUN);
    let took = started.elapsed();
    assert_exit(&output, 0);
    assert!(took < Duration::from_secs(20), "the run took {took:?}");
    let report = json_of(&output);
    assert_eq!(report["engine"], "locust");
    assert_eq!(report["target"], starter.url());
    let requests = report["aggregated"]["requests"].as_u64().unwrap();
    assert!(requests > 0, "{report:#}");
    assert_eq!(report["aggregated"]["failures"], 0);
    assert_eq!(report["failures"], Value::Array(Vec::new()));
    assert_eq!(report["requests"][0]["name"], "/hello");
    assert!(!report["history"].as_array().unwrap().is_empty());

    let errors = support::load_report_schema_errors(&report);
    assert!(errors.is_empty(), "{errors:#?}");

    // The service saw at least what Locust counted (Locust may still have had answers in
    // flight when it stopped counting).
    let served = support::hello_count(&starter, 200);
    assert!(
        served >= requests as f64,
        "service {served} < Locust {requests}"
    );

    // No swarm is left running.
    assert_eq!(locust.stats()["state"], "stopped");
}

#[test]
fn failures_fail_the_threshold_and_host_re_aims_locust() {
    let starter = Starter::spawn(&["--fail-ratio", "0.5"]);
    // Locust starts aimed at a closed port; --host must re-aim it at the failing service.
    let Some(locust) = Locust::spawn(&format!("http://{}", free_addr())) else {
        return;
    };
    let target = starter.url();
    let mut args = RUN.to_vec();
    args.extend(["--fail-ratio", "0.1", "--host", &target]);
    let output = load(&locust.url(), &args);
    assert_exit(&output, 1);
    let report = json_of(&output);
    assert_eq!(report["passed"], false);
    assert_eq!(report["target"], starter.url());
    let verdict = &report["thresholds"][0];
    assert_eq!(verdict["name"], "fail-ratio");
    assert!(verdict["actual"].as_f64().unwrap() > 0.4, "{verdict}");
    let failures = report["failures"].as_array().unwrap();
    assert!(
        failures.iter().all(|f| f["cause"] == "status"),
        "{failures:#?}"
    );
    assert_eq!(locust.stats()["state"], "stopped");
}

#[test]
fn a_closed_port_is_a_one_line_error_naming_the_url() {
    let url = format!("http://{}", free_addr());
    let stderr = support::assert_refused(&load(&url, &RUN), &url);
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains("thidctl up"), "{stderr}");
}

#[test]
fn options_of_the_native_engine_are_refused() {
    for extra in [
        &["--path", "/hello"][..],
        &["--rate", "100/s"][..],
        &["--wait", "1s"][..],
        &["--threads", "2"][..],
        &["--metrics-listen", "127.0.0.1:0"][..],
    ] {
        // No Locust is needed: the options are refused before anything is sent.
        let stderr = support::assert_refused(&load("http://127.0.0.1:9", extra), extra);
        assert!(stderr.contains(extra[0]), "{stderr}");
        assert!(stderr.contains("--engine locust"), "{stderr}");
    }
}
