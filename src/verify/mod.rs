//! `thidctl verify`: every "Verify:" of the runbook as a check with evidence.

pub mod check;

pub use check::{Check, CheckStatus, Evidence};
pub mod render;
pub mod swarm_checks;

pub use render::VerifyReport;
