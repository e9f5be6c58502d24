//! The whole runbook on the real test cluster: `up`, the in-cluster Locust swarming 50 users at
//! spawn rate 5, and `verify` all green — then the service scaled to zero, where exactly the
//! checks that depend on it fail. Requests go only to 127.0.0.1 (forwards, API server) and to
//! the cluster's own pods.

mod cluster_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_support::{cluster_or_skip, forward_in, http_get, text, unique};
use serde_json::Value;

fn thidctl(namespace: &str, state_dir: &Path) -> Command {
    cluster_support::thidctl_command(namespace, state_dir)
}

/// Stops the swarm (Ctrl-C, so Locust is told to stop) and brings everything down, also when
/// an assertion failed.
struct Teardown<'a> {
    namespace: &'a str,
    state_dir: &'a Path,
    load: Option<Child>,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        if let Some(mut load) = self.load.take() {
            let _ = Command::new("kill")
                .args(["-INT", &load.id().to_string()])
                .status();
            let _ = load.wait();
        }
        let _ = thidctl(self.namespace, self.state_dir)
            .args(["down", "--delete-namespace"])
            .output();
    }
}

fn verify(namespace: &str, state_dir: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let output = thidctl(namespace, state_dir)
        .args(["verify", "--output", "json"])
        .args(extra)
        .output()
        .expect("thidctl verify runs");
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), report, text(&output))
}

/// The failure count of Locust's aggregated row, read from its web API.
fn locust_failures(locust: std::net::SocketAddr) -> Option<u64> {
    let (status, body) = http_get(locust, "/stats/requests").ok()?;
    if status != 200 {
        return None;
    }
    let stats: Value = serde_json::from_str(&body).ok()?;
    stats["stats"]
        .as_array()?
        .iter()
        .find(|row| row["name"] == "Aggregated")?["num_failures"]
        .as_u64()
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["status"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_runbook_verifies_green_and_a_stopped_service_fails_the_right_checks() {
    if !cluster_or_skip() {
        return;
    }
    let namespace = format!("thidctl-e2e-verify-{}", unique());
    let state = tempfile::tempdir().unwrap();
    let mut teardown = Teardown {
        namespace: &namespace,
        state_dir: state.path(),
        load: None,
    };

    let up = thidctl(&namespace, state.path())
        .args(["up", "--detach", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));

    // The runbook's swarm: 50 users, spawn rate 5, bounded.
    teardown.load = Some(
        thidctl(&namespace, state.path())
            .args([
                "load",
                "--engine",
                "locust",
                "--users",
                "50",
                "--spawn-rate",
                "5",
                "--run-time",
                "6m",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let junit = state.path().join("verify.xml");
    let (code, report, all) = verify(
        &namespace,
        state.path(),
        &["--wait", "3m", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{all}");
    let checks = statuses(&report);
    assert!(checks.len() >= 4, "{checks:?}");
    assert!(
        checks.iter().all(|(_, status)| status == "pass"),
        "{checks:?}"
    );
    let names: Vec<&str> = checks.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "Locust is aimed at the service",
        "Requests grow with no failures",
        "Requests/Second",
        "Latency",
        "Locust",
    ] {
        assert!(
            names.iter().any(|n| n.contains(expected)),
            "no check about {expected}: {names:?}"
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
    println!(
        "green verify:\n{}",
        text(
            &thidctl(&namespace, state.path())
                .args(["verify", "--window", "10s"])
                .output()
                .unwrap()
        )
    );

    // Take the service away: Locust now fails, and the service's series go stale.
    let up_report: Value = serde_json::from_slice(&up.stdout).unwrap();
    let locust = forward_in(&up_report, "locust");
    let failures_before = locust_failures(locust).expect("Locust answers /stats/requests");
    let scale = Command::new("kubectl")
        .args([
            "scale",
            "deployment/thidwick-thidwick-starter",
            "--replicas=0",
            "--namespace",
            &namespace,
        ])
        .output()
        .unwrap();
    assert!(scale.status.success(), "{}", text(&scale));
    let prometheus = forward_in(&up_report, "prometheus");
    let deadline = Instant::now() + Duration::from_secs(180);
    let query = format!(
        "/api/v1/query?query=thidwick_http_requests_total%7Bnamespace%3D%22{namespace}%22%7D"
    );
    // Wait for both halves of "gone": Prometheus has ended the service's series, and Locust's
    // requests fail (refused by the Service that has no endpoints left) rather than stall.
    let mut failures_now = failures_before;
    while Instant::now() < deadline {
        let series_ended = matches!(
            http_get(prometheus, &query),
            Ok((200, body)) if body.contains("\"result\":[]")
        );
        failures_now = locust_failures(locust).unwrap_or(failures_now);
        if series_ended && failures_now > failures_before {
            break;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    assert!(
        failures_now > failures_before,
        "Locust's failures did not grow after the service went away ({failures_before} → {failures_now})"
    );
    let (code, report, all) = verify(
        &namespace,
        state.path(),
        &["--wait", "30s", "--window", "15s"],
    );
    assert_eq!(code, Some(1), "{all}");
    for (name, status) in statuses(&report) {
        // The service's own panels and Locust's failures depend on it; Locust's aim and its
        // own panels do not.
        let depends_on_the_service =
            name.contains("Requests grow") || name.starts_with("panel Thidwick-Starter ›");
        let expected = if depends_on_the_service {
            "fail"
        } else {
            "pass"
        };
        assert_eq!(status, expected, "{name}: {all}");
    }
    println!("negative verify:\n{all}");
}
