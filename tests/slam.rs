//! `thidctl slam` against the stand-in service with a known capacity, on 127.0.0.1: the knee
//! lies where the capacity knob puts it, and bad step lists are refused before any load.

mod common;

use std::process::Output;

use common::Starter;
use common::support;
use support::{assert_exit, json_of};

fn slam(args: &[&str]) -> Output {
    support::run_thidctl("slam", args)
}

#[test]
fn the_knee_sits_at_the_services_capacity() {
    // 10 slots of 10 ms: at most 1000 requests/s; below 10 users throughput grows with users,
    // above it only latency does.
    let starter = Starter::spawn(&["--concurrency", "10", "--work-time", "10ms"]);
    let output = slam(&[
        "--host",
        &starter.url(),
        "--path",
        "/hello",
        "--steps",
        "2,5,10,20,40",
        "--step-time",
        "3s",
        "--output",
        "json",
    ]);
    assert_exit(&output, 0);
    let report = json_of(&output);
    let knee = &report["knee"];
    let users = knee["users"].as_u64().expect("a knee was found");
    let rps = knee["rps"].as_f64().unwrap();
    // Physics, not timing: a 1000/s service cannot be measured above it, and the knee must lie
    // around the 10 slots rather than at either end of the step list.
    assert!(
        rps <= 1050.0,
        "knee at {rps} req/s is above the service's capacity"
    );
    assert!((5..=30).contains(&users), "knee at {users} users: {report}");
    let broke = &report["broke"];
    assert!(broke["users"].as_u64().unwrap() > users);
    assert!(!broke["reasons"].as_array().unwrap().is_empty());
    assert!(report["steps"].as_array().unwrap().len() >= 4);
    println!(
        "knee: {users} users at {rps:.0} req/s; broke: {}",
        broke["reasons"]
    );
}

#[test]
fn impossible_step_lists_are_refused_before_any_load() {
    let starter = Starter::spawn(&[]);
    for (steps, expected) in [
        ("100", "at least two"),
        ("100,50", "must rise"),
        ("0,10", "0 users"),
        ("5,x", "not a number"),
    ] {
        let output = slam(&[
            "--host",
            &starter.url(),
            "--steps",
            steps,
            "--step-time",
            "1s",
        ]);
        let stderr = support::assert_refused(&output, steps);
        assert!(stderr.contains(expected), "{steps}: {stderr}");
    }
    let metrics = support::scrape(&starter);
    let not_found = support::requests_series("GET", "other", 404);
    assert_eq!(common::prometheus_value(&metrics, &not_found), None);
    let no_target = slam(&["--steps", "1,2", "--step-time", "1s"]);
    assert_eq!(no_target.status.code(), Some(2));
}

#[test]
fn an_unreachable_target_breaks_the_first_step() {
    let url = format!("http://{}", support::free_addr());
    let output = slam(&[
        "--host",
        &url,
        "--steps",
        "1,2",
        "--step-time",
        "1s",
        "--output",
        "json",
    ]);
    assert_exit(&output, 1);
    let report = json_of(&output);
    assert!(report["knee"].is_null());
    assert_eq!(report["broke"]["users"], 1);
    assert!(
        report["broke"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("failure ratio")
    );
}
