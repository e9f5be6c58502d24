//! The `thidctl` binary: parse the command line, hand it to the library, turn the outcome into an
//! exit code. Everything else lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match thidctl::cli::parse_or_exit_code::<thidctl::cli::Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match thidctl::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("Error: {error:#}");
            thidctl::Outcome::ToolFailed.exit_code()
        }
    }
}
