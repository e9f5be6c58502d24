//! A check is one "Verify:" of the runbook decided from data: a name, a status, the evidence
//! that decided it, and how long deciding took.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// The data could not decide (e.g. Prometheus answered with warnings): never a pass.
    Inconclusive,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// What this is: "query", "result", "requests", "reason", …
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    /// Only required checks decide the exit code.
    pub required: bool,
    /// One line a person reads first.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub duration_s: f64,
}

impl Check {
    pub fn new(name: impl Into<String>, status: CheckStatus, summary: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status,
            required: true,
            summary: summary.into(),
            evidence: Vec::new(),
            duration_s: 0.0,
        }
    }

    pub fn with_evidence(mut self, label: impl Into<String>, value: impl Into<String>) -> Check {
        self.evidence.push(Evidence {
            label: label.into(),
            value: value.into(),
        });
        self
    }

    pub fn optional(mut self) -> Check {
        self.required = false;
        self
    }

    pub fn timed(mut self, duration: Duration) -> Check {
        self.duration_s = duration.as_secs_f64();
        self
    }
}
