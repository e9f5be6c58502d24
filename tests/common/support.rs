//! Helpers shared by the tests that run thidctl and the tools around it on this machine: thidctl
//! in a scrubbed environment, its JSON report, how it exits, a free 127.0.0.1 address, the
//! stand-in service's request counters, signals and bounded waits for child processes, and the
//! rule for a tool that a test needs but the machine lacks.

#![allow(dead_code)]

use std::fmt::Debug;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Starter};

/// The thidctl binary without the caller's THIDCTL_HOST and THIDCTL_LOCUST_URL, so that a
/// developer's settings cannot aim it elsewhere: every test names its own 127.0.0.1 target.
pub fn thidctl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thidctl"));
    command
        .env_remove("THIDCTL_HOST")
        .env_remove("THIDCTL_LOCUST_URL");
    command
}

/// Runs `thidctl <subcommand> <args>` to its end.
pub fn run_thidctl(subcommand: &str, args: &[&str]) -> Output {
    thidctl()
        .arg(subcommand)
        .args(args)
        .output()
        .expect("thidctl runs")
}

/// The JSON report on stdout; a failure shows both streams.
pub fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// How `report` breaks the committed schema of `--output json` (`schemas/load-report.schema.json`),
/// one line a breach; empty when it conforms.
pub fn load_report_schema_errors(report: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(include_str!("../../schemas/load-report.schema.json"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The run ended with exit code `code`; a failure shows its stderr.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The run refused its input the way thidctl refuses bad input: exit 2, a single line on stderr
/// and nothing on stdout. Gives back stderr, for the caller to check what the line names;
/// `what` (the case) labels the failure messages.
#[track_caller]
pub fn assert_refused(output: &Output, what: impl Debug) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{what:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{what:?} printed more than one line: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{what:?} printed on stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// A 127.0.0.1 address nobody listens on right now (bound, noted, closed): free to listen on, or
/// to be refused at.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .unwrap()
}

/// The stand-in service's Prometheus text.
#[track_caller]
pub fn scrape(starter: &Starter) -> String {
    let (status, text) = common::http_get(starter.addr(), "/metrics/prometheus");
    assert_eq!(status, 200, "{text}");
    text
}

/// The stand-in's counter of `method route` answered with `status`, as a Prometheus series.
pub fn requests_series(method: &str, route: &str, status: u16) -> String {
    format!(
        "thidwick_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
    )
}

/// The stand-in's count of `method route` answered with `status`, read from its Prometheus
/// text; 0 while it has no such series.
pub fn requests_total(metrics: &str, method: &str, route: &str, status: u16) -> f64 {
    common::prometheus_value(metrics, &requests_series(method, route, status)).unwrap_or(0.0)
}

/// How many `GET /hello` the stand-in has answered with `status` so far.
pub fn hello_count(starter: &Starter, status: u16) -> f64 {
    requests_total(&scrape(starter), "GET", "/hello", status)
}

/// Sends `signal` (`TERM`, `INT`) to `child`, as Kubernetes or a terminal would. Through the
/// shell's builtin `kill`: std has no way to send a signal, and every image has `sh`.
pub fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill -{signal} \"$1\""), "sh"])
        .arg(child.id().to_string())
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -{signal} failed: {status}");
}

/// Waits at most `limit` for `child` to exit; past that kills and reaps it and gives back `None`,
/// so a stuck process fails its test instead of hanging it.
pub fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The first of `names` found as a file in a PATH directory, looked at in PATH's order.
pub fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Whether CI is set: to anything but empty, `false` or `0`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// Whether something a test needs from the machine (`what`) is here. When it is not, a
/// developer's run prints `skipped: no …` and the test returns; with CI set it fails instead,
/// naming what CI must provide (`ci_needs`), so that CI never passes by skipping.
#[track_caller]
pub fn require(what: &str, present: bool, ci_needs: &str) -> bool {
    if !present {
        assert!(!in_ci(), "no {what}: CI is set and needs {ci_needs}");
        eprintln!("skipped: no {what}");
    }
    present
}
