//! The whole runbook on the real test cluster: `up`, the in-cluster Locust swarming 50 users at
//! spawn rate 5, and `verify` all green — then the service scaled to zero, where exactly the
//! checks that depend on it fail. Requests go only to 127.0.0.1 (forwards, API server) and to
//! the cluster's own pods.

mod cluster_support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cluster_support::{cluster_or_skip, http_get, unique};
use serde_json::Value;

fn thidctl(namespace: &str, state_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thidctl"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("THIDCTL_NAMESPACE", namespace)
        .env("THIDCTL_STATE_DIR", state_dir)
        .env("THIDCTL_REGISTRY", cluster_support::REGISTRY)
        .env("THIDCTL_BASE_IMAGE", cluster_support::DEBIAN)
        .env("THIDCTL_PROJECT_DIR", env!("CARGO_MANIFEST_DIR"))
        .env_remove("THIDCTL_CONFIG")
        .env_remove("THIDCTL_PROMETHEUS_URL")
        .env_remove("THIDCTL_LOCUST_URL");
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
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
    let prometheus = forward_of(&up, "prometheus");
    let deadline = Instant::now() + Duration::from_secs(180);
    let query = format!(
        "/api/v1/query?query=thidwick_http_requests_total%7Bnamespace%3D%22{namespace}%22%7D"
    );
    while Instant::now() < deadline {
        if let Ok((200, body)) = http_get(prometheus, &query)
            && body.contains("\"result\":[]")
        {
            break;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    let (code, report, all) = verify(
        &namespace,
        state.path(),
        &["--wait", "30s", "--window", "15s"],
    );
    assert_eq!(code, Some(1), "{all}");
    for (name, status) in statuses(&report) {
        let depends_on_the_service = name.contains("Requests grow")
            || name.contains("Requests/Second") && !name.contains("Locust")
            || name.contains("\"Latency\"");
        let expected = if depends_on_the_service {
            "fail"
        } else {
            "pass"
        };
        assert_eq!(status, expected, "{name}: {all}");
    }
    println!("negative verify:\n{all}");
}

fn forward_of(up: &Output, name: &str) -> std::net::SocketAddr {
    let report: Value = serde_json::from_slice(&up.stdout).unwrap();
    report["forwards"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == name))
        .and_then(|f| f["local"].as_str())
        .unwrap()
        .parse()
        .unwrap()
}
