//! The project's stand-in for thidwick-starter: `GET /hello` on 8080 with Prometheus metrics.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = thidctl::starter::Args::parse();
    match thidctl::starter::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::from(2)
        }
    }
}
