//! The `thidctl` binary: parse the command line, hand it to the library, turn the outcome into an
//! exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let cli = match thidctl::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            error.exit()
        }
        Err(error) => {
            // clap's first line names the problem; the usage lines after it only repeat --help.
            let rendered = error.to_string();
            eprintln!(
                "{}",
                rendered.lines().next().unwrap_or("invalid command line")
            );
            return thidctl::Outcome::ToolFailed.exit_code();
        }
    };
    match thidctl::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("Error: {error:#}");
            thidctl::Outcome::ToolFailed.exit_code()
        }
    }
}
