//! `thidctl load --in-cluster` on the real test cluster: worker pods of thidctl's own image swarm
//! the stand-in Service from inside the cluster, and the merged total matches what the service
//! itself counted; a missing image and an unschedulable pod fail at once and leave nothing.
//! Requests go to the cluster's own pods, and from the test only to 127.0.0.1 forwards.

mod cluster_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster_support::{cluster_or_skip, forward_in, http_get, text, unique};
use serde_json::Value;

/// Only what the test needs: the service, thidctl's image and a forward to the service.
const CONFIG: &str = r#"
images:
  - {name: thidwick-starter, repository: thidctl/thidwick-starter, dockerfile: k8s/dev/starter/Dockerfile, context: k8s/dev/starter, binary: thidwick-starter}
  - {name: thidctl, repository: thidctl/thidctl, dockerfile: k8s/dev/thidctl/Dockerfile, context: k8s/dev/thidctl, binary: thidctl}
releases:
  - name: thidwick
    chart: charts/thidwick-starter
    values: [k8s/dev/thidwick-starter/thidwick-starter-values-local.yaml]
    image: {name: thidwick-starter, values_key: image}
forwards:
  - {name: thidwick, selector: "app=thidwick-starter,project=thidwick", port: 8080}
"#;

fn thidctl(namespace: &str, state_dir: &Path) -> Command {
    let mut command = cluster_support::thidctl_command(namespace, state_dir);
    command.env("THIDCTL_CONFIG", state_dir.join("thidctl.yaml"));
    command
}

/// `thidctl load --in-cluster` with the numbers every run here gives; callers add the rest.
fn load_in_cluster(
    namespace: &str,
    state_dir: &Path,
    workers: &str,
    users: &str,
    run_time: &str,
) -> Command {
    let mut command = thidctl(namespace, state_dir);
    command.args([
        "load",
        "--in-cluster",
        "--workers",
        workers,
        "--users",
        users,
    ]);
    command.args(["--run-time", run_time]);
    command
}

struct Teardown<'a> {
    namespace: &'a str,
    state_dir: &'a Path,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        let _ = thidctl(self.namespace, self.state_dir)
            .args(["down", "--delete-namespace"])
            .output();
    }
}

/// How many `GET /metrics` the service has answered, from its own JSON metrics.
fn served(service: std::net::SocketAddr) -> u64 {
    let (status, body) = http_get(service, "/metrics").expect("the service answers");
    assert_eq!(status, 200, "{body}");
    let metrics: Value = serde_json::from_str(&body).unwrap();
    metrics["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|series| series["route"] == "/metrics" && series["method"] == "GET")
        .map(|series| series["count"].as_u64().unwrap())
        .sum()
}

/// Waits (bounded) until `count` worker pods run; the name of one of them.
fn wait_for_running_workers(namespace: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let output = Command::new("kubectl")
            .args(["get", "pods", "--namespace", namespace])
            .args(["--selector", "app.kubernetes.io/name=thidctl-worker"])
            .args(["--field-selector", "status.phase=Running"])
            .args(["--output", "jsonpath={.items[*].metadata.name}"])
            .output()
            .unwrap();
        let names = String::from_utf8_lossy(&output.stdout).to_string();
        let running: Vec<&str> = names.split_whitespace().collect();
        if running.len() >= count {
            return running[0].to_string();
        }
        assert!(
            Instant::now() < deadline,
            "worker pods not running: {names}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Objects of in-cluster runs still in the namespace.
fn leftovers(namespace: &str) -> String {
    let output = Command::new("kubectl")
        .args([
            "get",
            "jobs,pods,configmaps",
            "--namespace",
            namespace,
            "--selector",
            "app.kubernetes.io/managed-by=thidctl",
            "--output",
            "name",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn workers_in_the_cluster_merge_to_the_services_own_count() {
    if !cluster_or_skip() {
        return;
    }
    let namespace = format!("thidctl-e2e-incluster-{}", unique());
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("thidctl.yaml"), CONFIG).unwrap();
    let _teardown = Teardown {
        namespace: &namespace,
        state_dir: state.path(),
    };
    let up = thidctl(&namespace, state.path())
        .args(["up", "--detach", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));
    let service = forward_in(&serde_json::from_slice(&up.stdout).unwrap(), "thidwick");

    let before = served(service);
    // `/metrics` is a path nobody else requests (probes use /hello, Prometheus
    // /metrics/prometheus), so the service's count of it is the swarm's alone.
    let load = load_in_cluster(&namespace, state.path(), "3", "30", "15s")
        .args([
            "--spawn-rate",
            "30",
            "--path",
            "/metrics",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(load.status.code(), Some(0), "{}", text(&load));
    let after = served(service);
    let report: Value = serde_json::from_slice(&load.stdout).unwrap();
    let merged = report["aggregated"]["requests"].as_u64().unwrap();
    assert_eq!(report["aggregated"]["failures"], 0, "{report}");
    assert_eq!(report["peak_users"], 30, "{report}");
    // The service also counted the first look-up of its count (answered after it was read)
    // and any request still in flight when a worker stopped: at most one per user.
    let counted = after - before - 1;
    eprintln!("workers merged {merged} requests, the service counted {counted}");
    assert!(merged > 1000, "too few requests to compare: {merged}");
    assert!(
        merged <= counted && counted - merged <= 30,
        "workers merged {merged}, the service counted {counted}\n{}",
        text(&load)
    );
    assert_eq!(leftovers(&namespace), "", "the run left objects behind");

    // A worker killed mid-run: reported, its numbers so far kept, and the run fails (exit 1)
    // because its result is partial.
    let dying = load_in_cluster(&namespace, state.path(), "3", "6", "25s")
        .args([
            "--spawn-rate",
            "6",
            "--path",
            "/metrics",
            "--output",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let victim = wait_for_running_workers(&namespace, 3);
    std::thread::sleep(Duration::from_secs(5));
    let killed = Command::new("kubectl")
        .args(["delete", "pod", &victim, "--namespace", &namespace])
        .args(["--grace-period=0", "--force", "--wait=false"])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{}", text(&killed));
    let dying = dying.wait_with_output().unwrap();
    assert_eq!(dying.status.code(), Some(1), "{}", text(&dying));
    let partial: Value = serde_json::from_slice(&dying.stdout).unwrap();
    assert!(
        partial["aggregated"]["requests"].as_u64().unwrap() > 100,
        "{partial}"
    );
    let error = String::from_utf8_lossy(&dying.stderr);
    assert!(
        error.contains(&format!("worker did not finish: {victim}"))
            && error.contains("1 of 3 workers did not finish"),
        "{error}"
    );
    assert_eq!(leftovers(&namespace), "");

    // An image the cluster cannot pull: one clear line, exit 2, nothing left.
    let missing = load_in_cluster(&namespace, state.path(), "2", "2", "10s")
        .args([
            "--worker-image",
            "127.0.0.1:5000/thidctl-test/not-built:none",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains("not-built:none is not in the cluster") && error.contains("thidctl up"),
        "{error}"
    );
    assert_eq!(leftovers(&namespace), "");

    // A pod no node can take.
    let unschedulable = load_in_cluster(&namespace, state.path(), "2", "2", "10s")
        .args(["--worker-cpu", "500"])
        .output()
        .unwrap();
    assert_eq!(
        unschedulable.status.code(),
        Some(2),
        "{}",
        text(&unschedulable)
    );
    let error = String::from_utf8_lossy(&unschedulable.stderr);
    assert!(error.contains("cannot be scheduled"), "{error}");
    assert_eq!(leftovers(&namespace), "");

    // thidctl killed outright cannot clean up; `down` removes what it left.
    let mut killed = load_in_cluster(&namespace, state.path(), "2", "2", "2m")
        .args(["--path", "/metrics"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(&namespace).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert_ne!(leftovers(&namespace), "", "the run never created its Job");
    let down = thidctl(&namespace, state.path())
        .arg("down")
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert!(
        text(&down).contains("remove leftover in-cluster workers: 1 Job(s)"),
        "{}",
        text(&down)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !leftovers(&namespace).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(leftovers(&namespace), "", "down left the workers behind");
}
