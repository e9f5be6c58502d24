//! The command line: one enum of subcommands, each defined and executed in its own module.

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
    /// Swarm a service with simulated users (Locust semantics) or at a fixed rate.
    Load(commands::load::LoadArgs),
}

impl Command {
    pub fn execute(self) -> anyhow::Result<crate::Outcome> {
        match self {
            Command::Load(args) => commands::load::execute(args),
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
