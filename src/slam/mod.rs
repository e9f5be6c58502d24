//! `thidctl slam`: stepped load until the service deteriorates, and where that happens.

pub mod objective;
pub mod report;
pub mod run;

pub use report::{Breach, Knee, Objective, SlamReport, SlamStep};
