//! The project's stand-in for thidwick-starter: `GET /hello` on 8080 with Prometheus metrics.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match thidctl::cli::parse_or_exit_code::<thidctl::starter::Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match thidctl::starter::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            ExitCode::from(2)
        }
    }
}
