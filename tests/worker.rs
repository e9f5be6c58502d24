//! `thidctl worker` as a coordinator runs it: several processes share one swarm against the
//! stand-in service on 127.0.0.1, and their wire lines merge into exactly what the service saw.

mod common;

use std::io::Read;
use std::process::{Child, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::Starter;
use common::support;
use hdrhistogram::Histogram;
use support::assert_exit;
use thidctl::swarm::stats::StatsBatch;
use thidctl::swarm::wire::{self, LINE_PREFIX, WireBatch};

fn worker(index: u64, args: &[&str]) -> Child {
    support::thidctl()
        .env("JOB_COMPLETION_INDEX", index.to_string())
        .arg("worker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("thidctl runs")
}

/// The worker's last wire line, after checking that stdout holds nothing else.
fn last_wire(output: &Output) -> WireBatch {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stdout.lines() {
        assert!(
            line.starts_with(LINE_PREFIX),
            "stray stdout line {line:?}; stderr:\n{stderr}"
        );
    }
    WireBatch::last_in(&stdout)
        .unwrap_or_else(|| panic!("no wire line in {stdout:?}; stderr:\n{stderr}"))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn two_workers_merge_into_exactly_what_the_service_saw() {
    let starter = Starter::spawn(&[]);
    let url = starter.url();
    let args = [
        "--host",
        &url,
        "--path",
        "/hello",
        "--users",
        "6",
        "--spawn-rate",
        "100",
        "--iterations",
        "400",
        "--share-of",
        "2",
    ];
    let children: Vec<Child> = (0..2).map(|index| worker(index, &args)).collect();
    let wires: Vec<WireBatch> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("the worker finishes");
            assert_exit(&output, 0);
            last_wire(&output)
        })
        .collect();
    for wire in &wires {
        assert!(wire.done);
        assert_eq!(wire.requests[0].requests, 200, "iterations split evenly");
    }

    let mut merged = StatsBatch::new(0, false);
    let (base, base_unix) = (Instant::now(), unix_now());
    for wire in &wires {
        wire::merge_into(&mut merged, wire, base, base_unix);
    }
    let total = merged.aggregated();
    assert_eq!(total.requests, 400);
    assert_eq!(total.failures, 0);
    assert_eq!(total.requests as f64, support::hello_count(&starter, 200));

    // The same merge done by hand from the workers' buckets: percentiles agree exactly.
    let mut by_hand = Histogram::<u64>::new(3).unwrap();
    by_hand.auto(true);
    for wire in &wires {
        for &(value, count) in &wire.requests[0].latency {
            by_hand.record_n(value, count).unwrap();
        }
    }
    assert_eq!(by_hand.len(), 400);
    for quantile in [0.5, 0.75, 0.9, 0.95, 0.99, 0.999] {
        assert_eq!(
            total.latency.value_at_quantile(quantile),
            by_hand.value_at_quantile(quantile),
            "quantile {quantile}"
        );
    }
    assert_eq!(total.latency.max(), by_hand.max());
    let exact_max = wires.iter().map(|w| w.requests[0].max_us).max().unwrap();
    assert_eq!(total.max_ms(), exact_max as f64 / 1000.0);
}

#[test]
fn sigterm_stops_a_worker_with_a_final_line() {
    let starter = Starter::spawn(&[]);
    let url = starter.url();
    let mut child = worker(
        0,
        &[
            "--host",
            &url,
            "--path",
            "/hello",
            "--users",
            "2",
            "--spawn-rate",
            "100",
            "--run-time",
            "60s",
        ],
    );
    // Drained on threads, so a full pipe cannot stall the worker.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    thread::sleep(Duration::from_secs(2));
    support::send_signal(&child, "TERM");
    let status = support::wait_at_most(&mut child, Duration::from_secs(10))
        .expect("the worker exits within 10 s of SIGTERM");
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert_exit(&output, 130);
    let wire = last_wire(&output);
    assert!(wire.done);
    assert!(wire.requests[0].requests > 0);
    assert!(wire.elapsed_s < 10.0, "{}", wire.elapsed_s);
}

#[test]
fn a_worker_refuses_what_it_cannot_do() {
    let cases: [&[&str]; 3] = [
        &["--engine", "locust"],
        &["--users", "1", "--share-of", "2"],
        &["--max-p95", "200ms"],
    ];
    for args in cases {
        let output = worker(0, &[&["--host", "http://127.0.0.1:9"], args].concat())
            .wait_with_output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
