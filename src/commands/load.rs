//! `thidctl load`: validate the options, run the swarm with a live view, then report, write the
//! requested files and judge the thresholds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::OutputFormat;
use crate::report::{LoadReport, live::LiveView};
use crate::swarm::plan::{Model, SwarmPlan};
use crate::swarm::scenario::Scenario;
use crate::swarm::schedule::OpenSchedule;
use crate::swarm::target::Target;
use crate::swarm::{self, EndReason, exporter};
use crate::thresholds::Thresholds;
use crate::units::{Rate, WaitRange, parse_duration};
use crate::{Outcome, interrupt, metrics_endpoint};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Base URL of the service under load, e.g. http://127.0.0.1:8080 (overrides the scenario's).
    #[arg(long, short = 'H', env = "THIDCTL_HOST")]
    pub host: Option<String>,
    /// Simulated users (in the open model: connections).
    #[arg(long, short = 'u', default_value_t = 1)]
    pub users: u64,
    /// Users started per second, as Locust's spawn rate [default: 1].
    #[arg(long, short = 'r', allow_negative_numbers = true)]
    pub spawn_rate: Option<f64>,
    /// Stop after this long, e.g. 90s or 1m30s [default: until Ctrl-C or --iterations].
    #[arg(long, short = 't', value_parser = parse_duration)]
    pub run_time: Option<Duration>,
    /// Stop after this many requests over all users.
    #[arg(long, short = 'i')]
    pub iterations: Option<u64>,
    /// Wait between a user's tasks: fixed (1s) or uniform in a range (500ms..5s) [default: none].
    #[arg(long)]
    pub wait: Option<WaitRange>,
    /// YAML scenario of weighted requests, the equivalent of a locustfile.
    #[arg(long, short = 'f', conflicts_with = "path")]
    pub scenario: Option<PathBuf>,
    /// A single path every user requests with GET [default: /].
    #[arg(long)]
    pub path: Option<String>,
    /// Open model: send at this total rate (e.g. 2000/s) whatever the latency, counting latency
    /// from each request's scheduled start.
    #[arg(long)]
    pub rate: Option<Rate>,
    /// How long stopping users may finish their request in flight.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub stop_timeout: Duration,
    /// Give up on a request (connect included) after this long; counted as a timeout failure.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Worker threads [default: the CPUs this process may use].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Result format on stdout.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Also write Locust-compatible PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Serve Locust-exporter metrics for Prometheus at http://ADDR/metrics while running.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Fail (exit 1) when the share of failed requests is above this (0..1).
    #[arg(long, allow_negative_numbers = true)]
    pub fail_ratio: Option<f64>,
    /// Fail (exit 1) when the 95th percentile response time is above this, e.g. 200ms.
    #[arg(long, value_parser = parse_duration)]
    pub max_p95: Option<Duration>,
    /// Fail (exit 1) when the 99th percentile response time is above this.
    #[arg(long, value_parser = parse_duration)]
    pub max_p99: Option<Duration>,
    /// Fail (exit 1) when fewer requests per second than this were made.
    #[arg(long, allow_negative_numbers = true)]
    pub min_rps: Option<f64>,
}

pub fn execute(args: LoadArgs) -> anyhow::Result<Outcome> {
    let plan = plan_from(&args)?;
    let thresholds = thresholds_from(&args)?;
    if let Some(prefix) = &args.csv {
        check_writable_prefix(prefix)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args, plan, thresholds))
}

async fn run(args: LoadArgs, plan: SwarmPlan, thresholds: Thresholds) -> anyhow::Result<Outcome> {
    let exposition = metrics_endpoint::Exposition::default();
    let server = match args.metrics_listen {
        Some(address) => Some(metrics_endpoint::serve(
            metrics_endpoint::bind(address).await?,
            exposition.clone(),
        )),
        None => None,
    };
    let interrupt = interrupt::install();
    let mut live = LiveView::new(false);
    let target_users = plan.users;
    let publish = server.is_some();
    let result = swarm::run(plan, interrupt, |collector, plan| {
        live.update(collector, target_users);
        if publish {
            let state = exporter::running_state(collector.users(), target_users, false);
            let text = exporter::render(collector, plan, state);
            *exposition.lock().expect("exposition lock") = text;
        }
    })
    .await
    .context("cannot start the swarm's worker threads")?;
    live.finish();
    if let Some(server) = server {
        server.abort();
    }

    let report = LoadReport::from_swarm(&result);
    let verdicts = thresholds.evaluate(&report.aggregated);
    let report = report.with_thresholds(verdicts);
    match args.output {
        OutputFormat::Text => print!("{}", crate::report::text::render(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if let Some(prefix) = &args.csv {
        for path in crate::report::csv::write_all(&report, prefix)? {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(if result.end == EndReason::Interrupted {
        Outcome::Interrupted
    } else if report.passed {
        Outcome::Passed
    } else {
        Outcome::ChecksFailed
    })
}

/// Turns the options into a plan, refusing anything that cannot run before a request is sent.
pub fn plan_from(args: &LoadArgs) -> anyhow::Result<SwarmPlan> {
    if args.users == 0 {
        bail!("--users 0 starts nobody; give at least 1");
    }
    if let Some(rate) = args.spawn_rate
        && !(rate.is_finite() && rate > 0.0)
    {
        bail!("--spawn-rate {rate} is not above zero; give users per second, e.g. 5");
    }
    if args.iterations == Some(0) {
        bail!("--iterations 0 sends nothing; give at least 1");
    }
    if args.run_time == Some(Duration::ZERO) {
        bail!("--run-time 0s runs nothing; give a duration such as 90s");
    }
    if args.timeout.is_zero() {
        bail!("--timeout 0s fails every request; give a duration such as 30s");
    }
    let threads = match args.threads {
        Some(0) => bail!("--threads 0 leaves nobody to send; give at least 1"),
        Some(threads) => threads,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    let scenario = match (&args.scenario, &args.path) {
        (Some(file), _) => Scenario::from_file(file)?,
        (None, path) => Scenario::single_path(path.as_deref().unwrap_or("/"))
            .map_err(|message| anyhow::anyhow!("invalid --path: {message}"))?,
    };
    let host = args.host.clone().or_else(|| scenario.host.clone()).ok_or_else(|| {
        anyhow::anyhow!("no target: give --host URL (e.g. http://127.0.0.1:8080) or `host:` in the scenario file")
    })?;
    let target = Target::parse(&host)?;
    let model = match args.rate {
        Some(_) if args.spawn_rate.is_some() => {
            bail!(
                "--spawn-rate does not apply with --rate: the open model sends at --rate from the start"
            )
        }
        Some(_) if args.wait.is_some() => {
            bail!("--wait does not apply with --rate: the open model's waits follow from the rate")
        }
        Some(Rate(rate)) => Model::Open(OpenSchedule {
            rate,
            connections: args.users,
        }),
        None => Model::Closed {
            wait: args.wait.or(scenario.wait).unwrap_or_default(),
        },
    };
    Ok(SwarmPlan {
        target,
        scenario,
        users: args.users,
        spawn_rate: args.spawn_rate.unwrap_or(1.0),
        model,
        run_time: args.run_time,
        iterations: args.iterations,
        stop_timeout: args.stop_timeout,
        request_timeout: args.timeout,
        threads,
    })
}

fn thresholds_from(args: &LoadArgs) -> anyhow::Result<Thresholds> {
    if let Some(ratio) = args.fail_ratio
        && !(0.0..=1.0).contains(&ratio)
    {
        bail!("--fail-ratio {ratio} is not a share; give a number from 0 to 1, e.g. 0.01");
    }
    if let Some(rps) = args.min_rps
        && !(rps.is_finite() && rps > 0.0)
    {
        bail!("--min-rps {rps} is not above zero; give requests per second, e.g. 100");
    }
    Ok(Thresholds {
        fail_ratio: args.fail_ratio,
        max_p95: args.max_p95,
        max_p99: args.max_p99,
        min_rps: args.min_rps,
    })
}

fn check_writable_prefix(prefix: &std::path::Path) -> anyhow::Result<()> {
    let directory = match prefix.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !directory.is_dir() {
        bail!(
            "--csv {}: directory {} does not exist; create it or choose another prefix",
            prefix.display(),
            directory.display()
        );
    }
    Ok(())
}
