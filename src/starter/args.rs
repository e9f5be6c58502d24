//! The flags of `thidwick-starter`. Each also reads an environment variable so a Helm chart can
//! set it; a bad value stops clap with one line naming the flag and how to write it (exit 2).

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::Parser;
use thiserror::Error;

use super::capacity::Limits;
use crate::units::parse_duration;

/// The project's stand-in for thidwick-starter: `GET /hello` with a tunable capacity, injected
/// failures and Prometheus metrics.
#[derive(Parser, Debug, Clone)]
#[command(name = "thidwick-starter", version)]
pub struct Args {
    /// Address to listen on, as IP:PORT; port 0 picks a free port (the start-up line shows it).
    #[arg(long, env = "THIDWICK_LISTEN", value_name = "ADDR", default_value = "0.0.0.0:8080", value_parser = socket_addr)]
    pub listen: SocketAddr,

    /// How many /hello requests are in service at once; the rest wait in a FIFO queue.
    /// 0 means unlimited.
    #[arg(long, env = "THIDWICK_CONCURRENCY", value_name = "N", default_value_t = 0, value_parser = count, allow_negative_numbers = true)]
    pub concurrency: usize,

    /// How long each /hello request holds its service slot, on a timer (not the CPU):
    /// e.g. 250us, 10ms, 1s. Capacity is concurrency / work-time requests per second.
    #[arg(long, env = "THIDWICK_WORK_TIME", value_name = "DURATION", default_value = "0ms", value_parser = parse_duration)]
    pub work_time: Duration,

    /// How many /hello requests may wait for a slot; beyond that they get 503 at once.
    #[arg(long, env = "THIDWICK_MAX_QUEUE", value_name = "N", default_value_t = 10_000, value_parser = count, allow_negative_numbers = true)]
    pub max_queue: usize,

    /// Share of /hello requests answered with --fail-status, exactly and evenly spread:
    /// 0.25 fails 25 of every 100.
    #[arg(long, env = "THIDWICK_FAIL_RATIO", value_name = "F", default_value_t = 0.0, value_parser = ratio, allow_negative_numbers = true)]
    pub fail_ratio: f64,

    /// Status of the injected failures.
    #[arg(long, env = "THIDWICK_FAIL_STATUS", value_name = "CODE", default_value_t = 500, value_parser = error_status)]
    pub fail_status: u16,

    /// Worker threads of the runtime [default: the number of CPUs].
    #[arg(long, env = "THIDWICK_THREADS", value_name = "N", value_parser = threads, allow_negative_numbers = true)]
    pub threads: Option<NonZeroUsize>,
}

impl Args {
    pub fn limits(&self) -> Limits {
        Limits {
            concurrency: self.concurrency,
            work_time: self.work_time,
            max_queue: self.max_queue,
        }
    }
}

/// Why a flag value was refused; clap prefixes the flag and the value.
#[derive(Debug, Error, PartialEq)]
pub enum FlagError {
    #[error("expected IP:PORT, e.g. 0.0.0.0:8080, or 127.0.0.1:0 for any free port")]
    Address,
    #[error("expected a whole number of zero or more, e.g. 10")]
    Count,
    #[error("expected a whole number of 1 or more, e.g. 4")]
    Threads,
    #[error("expected a share between 0 and 1, e.g. 0.25 to fail one request in four")]
    Ratio,
    #[error("expected an error status between 400 and 599, e.g. 500 or 503")]
    Status,
}

fn socket_addr(text: &str) -> Result<SocketAddr, FlagError> {
    text.trim().parse().map_err(|_| FlagError::Address)
}

fn count(text: &str) -> Result<usize, FlagError> {
    text.trim().parse().map_err(|_| FlagError::Count)
}

fn threads(text: &str) -> Result<NonZeroUsize, FlagError> {
    text.trim().parse().map_err(|_| FlagError::Threads)
}

fn ratio(text: &str) -> Result<f64, FlagError> {
    match text.trim().parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(FlagError::Ratio),
    }
}

fn error_status(text: &str) -> Result<u16, FlagError> {
    match text.trim().parse::<u16>() {
        Ok(status) if (400..=599).contains(&status) => Ok(status),
        _ => Err(FlagError::Status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("thidwick-starter").chain(flags.iter().copied()))
    }

    #[test]
    fn defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(
            args.limits(),
            Limits {
                concurrency: 0,
                work_time: Duration::ZERO,
                max_queue: 10_000
            }
        );
        assert_eq!((args.fail_ratio, args.fail_status), (0.0, 500));
        assert_eq!(args.threads, None);
    }

    #[test]
    fn work_time_takes_micro_milli_and_whole_seconds() {
        for (text, expected) in [
            ("250us", Duration::from_micros(250)),
            ("10ms", Duration::from_millis(10)),
            ("1s", Duration::from_secs(1)),
            ("0ms", Duration::ZERO),
        ] {
            assert_eq!(parse(&["--work-time", text]).unwrap().work_time, expected);
        }
        let error = parse(&["--work-time", "10parsecs"])
            .unwrap_err()
            .to_string();
        let first_line = error.lines().next().unwrap();
        assert!(first_line.contains("--work-time"), "{first_line}");
        assert!(first_line.contains("unknown unit"), "{first_line}");
    }

    #[test]
    fn bad_values_name_the_flag_and_the_fix() {
        for (flags, fix) in [
            (&["--fail-ratio", "-0.1"][..], "between 0 and 1"),
            (&["--fail-ratio", "1.5"], "between 0 and 1"),
            (&["--fail-ratio", "NaN"], "between 0 and 1"),
            (&["--fail-status", "200"], "between 400 and 599"),
            (&["--listen", "localhost"], "IP:PORT"),
            (&["--concurrency", "-1"], "whole number"),
            (&["--threads", "0"], "1 or more"),
        ] {
            let error = parse(flags).unwrap_err();
            assert_eq!(error.exit_code(), 2);
            let first_line = error.to_string().lines().next().unwrap().to_owned();
            assert!(first_line.contains(flags[0]), "{first_line}");
            assert!(first_line.contains(fix), "{first_line}");
        }
    }

    #[test]
    fn every_flag_reads_the_command_line() {
        let args = parse(&[
            "--listen=127.0.0.1:0",
            "--concurrency=10",
            "--work-time=10ms",
            "--max-queue=5",
            "--fail-ratio=0.25",
            "--fail-status=503",
            "--threads=2",
        ])
        .unwrap();
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.limits().concurrency, 10);
        assert_eq!(args.limits().max_queue, 5);
        assert_eq!((args.fail_ratio, args.fail_status), (0.25, 503));
        assert_eq!(args.threads, NonZeroUsize::new(2));
    }
}
