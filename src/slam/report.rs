//! The result of a slam: every step's figures, the knee (the last step that met the service
//! level objective) and the step that broke it, with why.

use serde::Serialize;

use crate::report::LoadReport;

pub const SCHEMA_ID: &str = "thidctl/slam-report/v1";

/// What "the service still copes" means for a step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Objective {
    /// p95 above this (ms) breaks the objective.
    pub max_p95_ms: Option<f64>,
    /// p95 above this many times the first step's breaks the objective.
    pub p95_growth_factor: f64,
    /// A share of failed requests above this breaks the objective.
    pub max_fail_ratio: f64,
    /// Throughput must rise by at least this share of the user increase's promise: a step whose
    /// RPS gained less than `min_rps_gain` × (expected gain if RPS scaled with users) has stopped
    /// rising.
    pub min_rps_gain: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlamStep {
    pub users: u64,
    pub duration_s: f64,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    pub fail_ratio: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Whether this step met the objective.
    pub met: bool,
    /// Why it did not, one reason per broken rule.
    pub reasons: Vec<String>,
    /// The step's full load report (stats, failures, history).
    pub report: LoadReport,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Knee {
    pub step: usize,
    pub users: u64,
    pub rps: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breach {
    pub step: usize,
    pub users: u64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlamReport {
    pub schema: &'static str,
    pub engine: &'static str,
    pub target: String,
    pub objective: Objective,
    pub steps: Vec<SlamStep>,
    /// The last step that met the objective; `None` when the first step already broke it.
    pub knee: Option<Knee>,
    /// The first step that broke the objective; `None` when every step met it.
    pub broke: Option<Breach>,
    pub interrupted: bool,
}
