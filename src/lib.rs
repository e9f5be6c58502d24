//! thidctl: the thidwick-starter load-test runbook as one reliable command.

pub mod cli;
pub mod commands;
pub mod config;
pub mod helm;
pub mod http;
pub mod image;
pub mod incluster;
pub mod kube;
pub mod locust;
pub mod overrides;
pub mod prom;
pub mod report;
pub mod runbook;
pub mod slam;
pub mod starter;
pub mod thresholds;
pub mod verify;

mod interrupt;
mod metrics_endpoint;
mod outcome;

pub use outcome::Outcome;

/// Runs one parsed command line and says how it ended.
pub fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    cli.command.execute()
}
pub mod swarm;
pub mod units;
