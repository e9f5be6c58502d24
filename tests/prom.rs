//! The dashboard checks against a real Prometheus (Debian's `prometheus` binary) scraping a real
//! `thidwick-starter` every second, both on 127.0.0.1. No mocks: the answers, the staleness
//! handling and the error messages are Prometheus's own.
//!
//! Without the binary these tests print "skipped: no prometheus" — except in CI (`CI` set),
//! where they fail: CI must install the `prometheus` apt package.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::support;
use common::{Starter, http_get};
use support::free_addr;
use thidctl::prom::{Dashboard, Panel, Prometheus, Substitution, check_panels};
use thidctl::verify::{Check, CheckStatus};

const SCRAPE: Duration = Duration::from_secs(1);
/// How long a panel may take to fill in: a few scrapes plus Prometheus's start-up.
const FILL_TIMEOUT: Duration = Duration::from_secs(30);

/// A Prometheus on a free local port with its own temporary storage and config, killed and
/// reaped on drop, also when the test panics.
struct PrometheusServer {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// `None` (after saying why) when the binary is missing outside CI.
    fn start(scrape_target: Option<SocketAddr>) -> Option<PrometheusServer> {
        let Some(binary) = support::on_path(&["prometheus"]) else {
            support::require("prometheus", false, "the `prometheus` apt package");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let targets = scrape_target
            .map(|target| format!("['{target}']"))
            .unwrap_or_else(|| "[]".into());
        let config = format!(
            "global:\n  scrape_interval: {}s\n  scrape_timeout: {}s\n\
             scrape_configs:\n  - job_name: thidwick-starter\n    metrics_path: /metrics/prometheus\n    \
             static_configs:\n      - targets: {targets}\n",
            SCRAPE.as_secs(),
            SCRAPE.as_secs()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let addr = free_addr();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let mut server = PrometheusServer { child, addr, dir };
        server.wait_ready();
        Some(server)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Waits for /-/ready; a Prometheus still starting may accept and then drop connections.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited with {status}; log:\n{}", self.log());
            }
            if answers_ready(self.addr) {
                return;
            }
            if Instant::now() > deadline {
                panic!("prometheus not ready within 30 s; log:\n{}", self.log());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/hello` every 20 ms from a thread, until dropped (and at most 2 minutes), so rates and
/// latency quantiles over a few seconds always have requests.
struct Traffic {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(addr: SocketAddr) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                assert_eq!(http_get(addr, "/hello").0, 200);
                thread::sleep(Duration::from_millis(20));
            }
        });
        Traffic {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The stand-in service scraped every second by a Prometheus of its own, and a client for that
/// Prometheus. `None` when the binary is missing outside CI.
fn scraped_starter() -> Option<(Starter, PrometheusServer, Prometheus)> {
    let starter = Starter::spawn(&[]);
    let server = PrometheusServer::start(Some(starter.addr()))?;
    let prometheus = Prometheus::new(&server.url()).unwrap();
    Some((starter, server, prometheus))
}

fn dashboard(relative: &str) -> Dashboard {
    Dashboard::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)).unwrap()
}

fn project_dashboard() -> Dashboard {
    dashboard("charts/monitoring/dashboards/thidwick-starter.json")
}

/// The series have no `namespace` label here; `namespace=~".*"` matches an absent label.
fn substitution() -> Substitution {
    Substitution {
        scrape_interval: SCRAPE,
        range: Duration::from_secs(1_800),
        variables: BTreeMap::from([("namespace".to_owned(), ".*".to_owned())]),
    }
}

async fn check(
    prometheus: &Prometheus,
    dashboard: &Dashboard,
    select: &dyn Fn(&Panel) -> bool,
    timeout: Duration,
) -> Vec<Check> {
    let mut rounds = Vec::new();
    let checks = check_panels(
        prometheus,
        dashboard,
        &substitution(),
        select,
        timeout,
        Duration::from_millis(500),
        &mut |done, total, pending| rounds.push((done, total, pending.to_vec())),
    )
    .await;
    // Progress came after every round, ending where the checks ended.
    let (done, total, pending) = rounds.last().expect("at least one round");
    assert_eq!(*total, checks.len());
    assert_eq!(done + pending.len(), *total);
    checks
}

fn in_starter_row(panel: &Panel) -> bool {
    panel.row.as_deref() == Some("Thidwick-Starter")
}

fn show(checks: &[Check]) -> String {
    format!("{checks:#?}")
}

#[tokio::test]
async fn the_starter_row_fills_in() {
    let Some((starter, _server, prometheus)) = scraped_starter() else {
        return;
    };
    let _traffic = Traffic::start(starter.addr());
    assert_eq!(prometheus.scrape_interval().await.unwrap(), Some(SCRAPE));

    let started = Instant::now();
    let checks = check(
        &prometheus,
        &project_dashboard(),
        &in_starter_row,
        FILL_TIMEOUT,
    )
    .await;
    eprintln!("filled in after {:?}: {}", started.elapsed(), show(&checks));
    let names: Vec<&str> = checks.iter().map(|check| check.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "panel Thidwick-Starter › Requests/Second",
            "panel Thidwick-Starter › Latency"
        ]
    );
    for check in &checks {
        assert_eq!(check.status, CheckStatus::Pass, "{}", show(&checks));
        let query = &check
            .evidence
            .iter()
            .find(|e| e.label.starts_with("query"))
            .unwrap()
            .value;
        assert!(query.contains("namespace=~\".*\""), "{query}");
        assert!(
            query.contains("[4s]"),
            "$__rate_interval is 4 × 1 s: {query}"
        );
        assert!(
            check
                .evidence
                .iter()
                .any(|e| e.label == "newest sample age")
        );
    }
}

#[tokio::test]
async fn a_missing_series_and_a_broken_query_fail() {
    let Some((_starter, _server, prometheus)) = scraped_starter() else {
        return;
    };
    let started = Instant::now();
    let checks = check(
        &prometheus,
        &dashboard("tests/fixtures/prometheus/dashboard-missing.json"),
        &|_| true,
        Duration::from_secs(3),
    )
    .await;
    eprintln!("decided after {:?}: {}", started.elapsed(), show(&checks));
    assert_eq!(checks.len(), 2, "{}", show(&checks));

    let missing = &checks[0];
    assert_eq!(missing.status, CheckStatus::Fail, "{}", show(&checks));
    assert!(
        missing.summary.contains("\"Nobody Exports This\""),
        "{}",
        missing.summary
    );
    assert!(
        missing
            .summary
            .contains(r#"no series for thidctl_nobody_exports_this_total{namespace=~".*"}"#),
        "{}",
        missing.summary
    );

    let broken = &checks[1];
    assert_eq!(broken.status, CheckStatus::Fail, "{}", show(&checks));
    assert!(
        broken.summary.contains("\"Broken Query\""),
        "{}",
        broken.summary
    );
    assert!(broken.summary.contains("bad_data"), "{}", broken.summary);
    assert!(
        broken.summary.contains("parse error"),
        "Prometheus's message: {}",
        broken.summary
    );
}

#[tokio::test]
async fn an_unreachable_prometheus_is_inconclusive() {
    // Skip-rule parity: the other tests need the binary, this one only a closed port.
    let prometheus = Prometheus::new(&format!("http://{}", free_addr())).unwrap();
    let started = Instant::now();
    let checks = check(
        &prometheus,
        &project_dashboard(),
        &in_starter_row,
        FILL_TIMEOUT,
    )
    .await;
    let elapsed = started.elapsed();
    eprintln!("decided after {elapsed:?}");
    assert_eq!(checks.len(), 2);
    for check in &checks {
        assert_eq!(check.status, CheckStatus::Inconclusive, "{}", show(&checks));
        assert!(
            check.summary.contains("unreachable after 3 tries"),
            "{}",
            check.summary
        );
        assert!(check.evidence.iter().any(|e| e.label.starts_with("reason")));
    }
    // Retried, but not waited out to the timeout: another round cannot reach it either.
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test]
async fn a_stopped_target_goes_stale() {
    let Some((starter, _server, prometheus)) = scraped_starter() else {
        return;
    };
    let traffic = Traffic::start(starter.addr());
    let requests = |panel: &Panel| panel.title == "Requests/Second";
    let before = check(&prometheus, &project_dashboard(), &requests, FILL_TIMEOUT).await;
    assert_eq!(before[0].status, CheckStatus::Pass, "{}", show(&before));

    drop(traffic);
    drop(starter);
    // More than two scrape intervals without a sample.
    tokio::time::sleep(SCRAPE * 4).await;
    let after = check(&prometheus, &project_dashboard(), &requests, Duration::ZERO).await;
    eprintln!("after the target stopped: {}", show(&after));
    assert_eq!(after[0].status, CheckStatus::Fail, "{}", show(&after));
    assert!(
        after[0].summary.contains("stale by"),
        "{}",
        after[0].summary
    );
    // The target is gone, not just slow: Prometheus has marked its series ended.
    assert!(
        after[0].summary.contains("marked its series ended"),
        "{}",
        after[0].summary
    );
}

/// Whether /-/ready answers 200, treating any connection trouble as "not yet".
fn answers_ready(addr: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/1.1 200")
}
