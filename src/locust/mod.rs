//! The in-cluster Locust of the runbook, driven through its web API: start a swarm, follow its
//! statistics, stop it, and turn what it measured into thidctl's load report.
//!
//! Works with both API generations the project meets: Locust 0.8 (`locust_count`/`hatch_rate`,
//! the runbook's original image) and Locust 1.x/2.x (`user_count`/`spawn_rate`).

pub mod client;
pub mod engine;
mod error;
mod page;
pub mod percentiles;
pub mod stats;

pub use client::{ApiGeneration, LocustClient};
pub use engine::{LocustPlan, LocustRun, run};
pub use error::LocustError;
pub use stats::{LocustErrorRow, LocustRow, LocustStats};
