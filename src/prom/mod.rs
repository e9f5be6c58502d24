//! Prometheus as the runbook's Grafana sees it: an HTTP API client, the dashboard's panels as
//! queries (with Grafana's variable substitution), and the "this panel is filling in" predicate.
//!
//! Data flows one way: [`Dashboard`] → [`substitute`] → [`probe_target`] (I/O) → [`judge`]
//! (pure) → [`check_panels`] turns the verdicts into [`crate::verify::Check`]s.

pub mod client;
pub mod dashboard;
pub mod duration;
pub mod error;
pub mod freshness;
pub mod panels;
pub mod substitute;

pub use client::{Prometheus, QueryResult, Sample};
pub use dashboard::{Dashboard, Panel, Target, Variable};
pub use error::PromError;
pub use freshness::{Freshness, TargetEvidence, judge, probe_target, vector_selectors};
pub use panels::check_panels;
pub use substitute::{Substitution, substitute, unresolved_variables};
