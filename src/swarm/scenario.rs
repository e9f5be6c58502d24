//! What the simulated users do: a list of weighted requests, read from a YAML scenario file or
//! made from a single `--path`. The file plays the role of the runbook's locustfile.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use thiserror::Error;

use crate::units::WaitRange;

#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source} (check the path given to --scenario)")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// The file format. Unknown keys are refused so that a typo does not silently change a test.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    /// Base URL; `--host` overrides it.
    host: Option<String>,
    /// Wait between tasks, e.g. `500ms..5s`; `--wait` overrides it.
    wait: Option<String>,
    requests: Vec<RequestSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestSpec {
    path: String,
    name: Option<String>,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default = "default_weight")]
    weight: u32,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    /// Statuses that count as success; by default any status below 400, as in Locust.
    expect_status: Option<StatusList>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusList {
    One(u16),
    Many(Vec<u16>),
}

fn default_method() -> String {
    "GET".into()
}

fn default_weight() -> u32 {
    1
}

/// One request a user may pick, ready to send.
#[derive(Debug, Clone)]
pub struct Task {
    /// The row name in the statistics, as Locust's `name=`; the path by default.
    pub name: String,
    pub method: Method,
    /// Path and query, joined to the target's base path.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub expect: Expectation,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Success is any status below 400.
    BelowFourHundred,
    Exactly(Vec<StatusCode>),
}

impl Expectation {
    pub fn accepts(&self, status: StatusCode) -> bool {
        match self {
            Expectation::BelowFourHundred => status.as_u16() < 400,
            Expectation::Exactly(codes) => codes.contains(&status),
        }
    }
}

/// The requests and their weights, with what the file said about host and wait.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub tasks: Vec<Task>,
    pub host: Option<String>,
    pub wait: Option<WaitRange>,
    cumulative_weights: Vec<u64>,
}

impl Scenario {
    /// The simple case: every user sends `GET path`.
    pub fn single_path(path: &str) -> Result<Scenario, String> {
        let task = Task {
            name: path.to_string(),
            method: Method::GET,
            path: checked_path(path)?,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            expect: Expectation::BelowFourHundred,
            weight: 1,
        };
        Ok(Scenario::new(vec![task], None, None))
    }

    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: display.clone(),
            source,
        })?;
        Scenario::from_yaml(&text).map_err(|message| ScenarioError::Invalid {
            path: display,
            message,
        })
    }

    pub fn from_yaml(text: &str) -> Result<Scenario, String> {
        let file: ScenarioFile =
            serde_yaml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        if file.requests.is_empty() {
            return Err("it lists no requests; add at least one under `requests:`".into());
        }
        let wait = file
            .wait
            .as_deref()
            .map(|w| w.parse::<WaitRange>().map_err(|e| e.to_string()))
            .transpose()?;
        let tasks = file
            .requests
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                task_from_spec(spec).map_err(|e| format!("request {}: {e}", index + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scenario::new(tasks, file.host, wait))
    }

    fn new(tasks: Vec<Task>, host: Option<String>, wait: Option<WaitRange>) -> Scenario {
        let cumulative_weights = tasks
            .iter()
            .scan(0u64, |sum, task| {
                *sum += u64::from(task.weight);
                Some(*sum)
            })
            .collect();
        Scenario {
            tasks,
            host,
            wait,
            cumulative_weights,
        }
    }

    /// Picks a task index by weight; `roll` is any uniformly random number.
    pub fn pick(&self, roll: u64) -> usize {
        let total = *self
            .cumulative_weights
            .last()
            .expect("a scenario has tasks");
        let point = roll % total;
        self.cumulative_weights
            .partition_point(|&edge| edge <= point)
    }
}

fn task_from_spec(spec: RequestSpec) -> Result<Task, String> {
    let method = Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("unknown method {:?}", spec.method))?;
    if spec.weight == 0 {
        return Err(
            "weight 0 never runs; give a weight of 1 or more, or remove the request".into(),
        );
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &spec.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("invalid value for header {name:?}"))?;
        headers.insert(header, value);
    }
    let expect = match spec.expect_status {
        None => Expectation::BelowFourHundred,
        Some(list) => {
            let codes = match list {
                StatusList::One(code) => vec![code],
                StatusList::Many(codes) => codes,
            };
            let codes = codes
                .into_iter()
                .map(|code| {
                    StatusCode::from_u16(code).map_err(|_| format!("invalid status {code}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if codes.is_empty() {
                return Err(
                    "expect_status is empty; list the statuses that count as success".into(),
                );
            }
            Expectation::Exactly(codes)
        }
    };
    Ok(Task {
        name: spec.name.unwrap_or_else(|| spec.path.clone()),
        path: checked_path(&spec.path)?,
        method,
        headers,
        body: spec.body.map(Bytes::from).unwrap_or_default(),
        expect,
        weight: spec.weight,
    })
}

fn checked_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must start with '/', e.g. /hello"));
    }
    if path.parse::<hyper::http::uri::PathAndQuery>().is_err() {
        return Err(format!("path {path:?} is not a valid URL path"));
    }
    Ok(path.to_string())
}

/// serde_yaml's messages span lines; the tool's errors fit on one.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOK: &str = r#"
wait: 500ms..5s
requests:
  - path: /hello
    weight: 2
  - path: /no_such_page
    name: missing page
    weight: 1
    method: post
    headers: { X-Test: "1" }
    body: "{}"
    expect_status: [404]
"#;

    #[test]
    fn runbook_scenario_parses() {
        let scenario = Scenario::from_yaml(RUNBOOK).unwrap();
        assert_eq!(scenario.tasks.len(), 2);
        assert_eq!(scenario.tasks[0].name, "/hello");
        assert_eq!(scenario.tasks[1].name, "missing page");
        assert_eq!(scenario.tasks[1].method, Method::POST);
        assert_eq!(scenario.tasks[1].headers["x-test"], "1");
        assert!(scenario.tasks[1].expect.accepts(StatusCode::NOT_FOUND));
        assert!(!scenario.tasks[1].expect.accepts(StatusCode::OK));
        assert!(scenario.tasks[0].expect.accepts(StatusCode::FOUND));
        let wait = scenario.wait.unwrap();
        assert_eq!(wait.max, std::time::Duration::from_secs(5));
    }

    #[test]
    fn picks_follow_weights() {
        let scenario = Scenario::from_yaml(RUNBOOK).unwrap();
        let picks: Vec<usize> = (0..3).map(|roll| scenario.pick(roll)).collect();
        assert_eq!(picks, vec![0, 0, 1]);
        let hello = (0..3000u64)
            .filter(|&roll| scenario.pick(roll) == 0)
            .count();
        assert_eq!(hello, 2000);
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        let cases = [
            ("requests: []", "lists no requests"),
            ("requests:\n  - path: hello", "must start with '/'"),
            ("requests:\n  - path: /a\n    weight: 0", "weight 0"),
            ("requests:\n  - path: /a\n    methd: GET", "unknown field"),
            (
                "requests:\n  - path: /a\n    method: \"G T\"",
                "unknown method",
            ),
            ("wait: 5x\nrequests:\n  - path: /a", "unknown unit"),
            (": : :", ""),
        ];
        for (text, expected) in cases {
            let error = Scenario::from_yaml(text).unwrap_err();
            assert!(error.contains(expected), "{text:?} gave {error:?}");
            assert!(!error.contains('\n'), "{error:?} spans lines");
        }
    }
}
