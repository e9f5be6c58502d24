//! The command line: one enum of subcommands, each defined and executed in its own module.

use clap::error::ErrorKind;
use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "thidctl",
    version,
    about = "Runs the thidwick-starter load-test runbook as one reliable command",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the images, install the charts, wait for rollouts and open port-forwards.
    Up(commands::up::UpArgs),
    /// Swarm a service with simulated users (Locust semantics) or at a fixed rate.
    Load(commands::load::LoadArgs),
    /// Step up the load until the service deteriorates, and report the knee.
    Slam(commands::slam::SlamArgs),
    /// Decide each "Verify:" of the runbook from data: Locust's aim and stats, the dashboard's panels.
    Verify(commands::verify::VerifyArgs),
    /// Show releases, pods and forwards with their health.
    Status(commands::status::StatusArgs),
    /// Stop the forwards and uninstall every release `up` installed.
    Down(commands::down::DownArgs),
    /// Holds the forwards of a detached `up` (started by `up --detach`).
    #[command(hide = true)]
    ForwardDaemon(commands::forward_daemon::ForwardDaemonArgs),
    /// Runs one share of an in-cluster swarm and prints its numbers for a coordinator to merge.
    #[command(hide = true)]
    Worker(commands::worker::WorkerArgs),
}

impl Command {
    pub fn execute(self) -> anyhow::Result<crate::Outcome> {
        match self {
            Command::Up(args) => commands::up::execute(args),
            Command::Load(args) => commands::load::execute(args),
            Command::Slam(args) => commands::slam::execute(args),
            Command::Verify(args) => commands::verify::execute(args),
            Command::Status(args) => commands::status::execute(args),
            Command::Down(args) => commands::down::execute(args),
            Command::ForwardDaemon(args) => commands::forward_daemon::execute(args),
            Command::Worker(args) => commands::worker::execute(args),
        }
    }
}

/// How results are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Tables for people.
    #[default]
    Text,
    /// One JSON document (see schemas/); nothing else on stdout.
    Json,
}

/// Parses the process's arguments. A usage error prints clap's first line only — it names the
/// option and the problem; the usage lines after it just repeat `--help` — and comes back as
/// the "could not run" exit code; `--help` and `--version` print and exit as usual.
pub fn parse_or_exit_code<P: Parser>() -> Result<P, std::process::ExitCode> {
    match P::try_parse() {
        Ok(parsed) => Ok(parsed),
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            error.exit()
        }
        Err(error) => {
            let rendered = error.to_string();
            eprintln!(
                "{}",
                rendered.lines().next().unwrap_or("invalid command line")
            );
            Err(crate::Outcome::ToolFailed.exit_code())
        }
    }
}
