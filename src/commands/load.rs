//! `thidctl load`: validate the options, run the swarm with a live view, then report, write the
//! requested files and judge the thresholds. `--engine locust` has a running Locust swarm
//! instead and reports, writes and judges its numbers the same way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::OutputFormat;
use crate::incluster::{self, InClusterArgs};
use crate::locust::{self, LocustClient, LocustPlan};
use crate::report::LoadReport;
use crate::report::live::{LiveLine, LiveView};
use crate::swarm::plan::{Model, SwarmPlan};
use crate::swarm::scenario::Scenario;
use crate::swarm::schedule::OpenSchedule;
use crate::swarm::target::Target;
use crate::swarm::{self, EndReason, exporter};
use crate::thresholds::Thresholds;
use crate::units::{Rate, WaitRange, parse_duration};
use crate::{Outcome, interrupt, metrics_endpoint};

/// Who makes the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Engine {
    /// thidctl's own swarm, in this process.
    #[default]
    Native,
    /// A running Locust (the in-cluster one that `thidctl up` forwards), driven through its web API.
    Locust,
}

/// Where the in-cluster Locust answers, for the locust engine.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LocustLocation {
    /// Locust's web UI [default: the forward of a detached `up`, else http://127.0.0.1:8089].
    #[arg(long, value_name = "URL", env = "THIDCTL_LOCUST_URL")]
    pub locust_url: Option<String>,
    /// The namespace whose `thidctl up --detach` forward to Locust to use.
    #[arg(
        long,
        short = 'n',
        env = "THIDCTL_NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// The kube context of that `up` [default: the current one].
    #[arg(long, env = "THIDCTL_CONTEXT")]
    pub context: Option<String>,
}

impl LocustLocation {
    /// `--locust-url`, else the forward a detached `up` opened (it may have moved off 8089),
    /// else the usual port.
    pub fn url(&self) -> String {
        self.locust_url
            .clone()
            .or_else(|| {
                crate::runbook::state::forwarded_url(
                    self.context.as_deref(),
                    &self.namespace,
                    "locust",
                )
            })
            .unwrap_or_else(|| "http://127.0.0.1:8089".to_string())
    }
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct LoadArgs {
    /// Who makes the requests; with locust, --host re-aims Locust (otherwise it keeps its own).
    #[arg(long, value_enum, default_value_t)]
    pub engine: Engine,
    #[command(flatten)]
    pub locust: LocustLocation,
    #[command(flatten)]
    pub cluster: InClusterArgs,
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
    /// Also write a self-contained HTML report with charts over time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
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
    let thresholds = thresholds_from(&args)?;
    if let Some(prefix) = &args.csv {
        check_output_directory("--csv", prefix)?;
    }
    if let Some(path) = &args.html {
        check_output_directory("--html", path)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.engine {
        Engine::Native if args.cluster.in_cluster => {
            incluster::check(&args, &args.cluster)?;
            plan_from(&incluster::with_target(&args)?)?;
            runtime.block_on(run_in_cluster(args, thresholds))
        }
        Engine::Native => {
            let plan = plan_from(&args)?;
            runtime.block_on(run(args, plan, thresholds))
        }
        Engine::Locust if args.cluster.in_cluster => bail!(
            "--in-cluster runs thidctl's own swarm; with --engine locust, Locust already runs in the cluster"
        ),
        Engine::Locust => {
            let plan = locust_plan_from(&args, &thresholds)?;
            runtime.block_on(run_locust(args, plan, thresholds))
        }
    }
}

async fn run(args: LoadArgs, plan: SwarmPlan, thresholds: Thresholds) -> anyhow::Result<Outcome> {
    let mut live = LiveView::new(false);
    let result = run_swarm(
        plan,
        args.metrics_listen,
        interrupt::install(),
        &mut live,
        |_, _| {},
    )
    .await?;
    live.finish();
    let report = LoadReport::from_swarm(&result);
    finish(
        &args,
        report,
        &thresholds,
        result.end == EndReason::Interrupted,
    )
}

/// The native swarm as worker pods in the cluster; reported, written and judged as a local one.
/// A worker that did not finish makes the run fail: its numbers are kept, but they are partial.
async fn run_in_cluster(args: LoadArgs, thresholds: Thresholds) -> anyhow::Result<Outcome> {
    let mut live = LiveView::new(false);
    let result = incluster::run_load(&args, &args.cluster, interrupt::install(), &mut live).await?;
    let interrupted = result.swarm.end == EndReason::Interrupted;
    let report = LoadReport::from_swarm(&result.swarm);
    let outcome = finish(&args, report, &thresholds, interrupted)?;
    if result.worker_problems.is_empty() || interrupted {
        return Ok(outcome);
    }
    for problem in &result.worker_problems {
        eprintln!("worker did not finish: {problem}");
    }
    eprintln!(
        "{} of {} workers did not finish: the numbers above are partial",
        result.worker_problems.len(),
        args.cluster.workers
    );
    Ok(Outcome::ChecksFailed)
}

/// Runs a native swarm with its live view and, when asked, the Prometheus endpoint that
/// serves the Locust exporter's series while it runs; `also` sees every tick too.
pub async fn run_swarm(
    plan: SwarmPlan,
    metrics_listen: Option<std::net::SocketAddr>,
    interrupt: tokio::sync::watch::Receiver<bool>,
    live: &mut LiveView,
    mut also: impl FnMut(&swarm::Collector, &SwarmPlan),
) -> anyhow::Result<swarm::SwarmResult> {
    let exposition = metrics_endpoint::Exposition::default();
    let server = match metrics_listen {
        Some(address) => Some(metrics_endpoint::serve(
            metrics_endpoint::bind(address).await?,
            exposition.clone(),
        )),
        None => None,
    };
    let target_users = plan.users;
    let result = swarm::run(plan, interrupt, |collector, plan| {
        live.update(&LiveLine::from_collector(collector, target_users));
        if server.is_some() {
            let state = exporter::running_state(collector.users(), target_users, false);
            *exposition.lock().expect("exposition lock") = exporter::render(collector, plan, state);
        }
        also(collector, plan);
    })
    .await
    .context("cannot start the swarm's worker threads");
    if let Some(server) = server {
        server.abort();
    }
    result
}

/// Judges, prints and writes a finished run's report, whichever engine made it.
fn finish(
    args: &LoadArgs,
    report: LoadReport,
    thresholds: &Thresholds,
    interrupted: bool,
) -> anyhow::Result<Outcome> {
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
    if let Some(path) = &args.html {
        crate::report::html::write(path, &crate::report::html::render_load(&report))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if interrupted {
        Outcome::Interrupted
    } else if report.passed {
        Outcome::Passed
    } else {
        Outcome::ChecksFailed
    })
}

async fn run_locust(
    args: LoadArgs,
    plan: LocustPlan,
    thresholds: Thresholds,
) -> anyhow::Result<Outcome> {
    let client = LocustClient::new(&args.locust.url())?;
    let interrupt = interrupt::install();
    let mut live = LiveView::new(false);
    let result = locust::run(&client, &plan, interrupt, |line| live.update(line)).await;
    live.finish();
    let run = result?;
    finish(&args, run.report, &thresholds, run.interrupted)
}

/// Checks the options for a Locust run: those only thidctl's own swarm has are refused rather
/// than silently ignored.
pub fn locust_plan_from(args: &LoadArgs, thresholds: &Thresholds) -> anyhow::Result<LocustPlan> {
    let native_only = [
        ("--scenario", args.scenario.is_some()),
        ("--path", args.path.is_some()),
        ("--rate", args.rate.is_some()),
        ("--wait", args.wait.is_some()),
        ("--metrics-listen", args.metrics_listen.is_some()),
        ("--threads", args.threads.is_some()),
    ];
    if let Some((option, _)) = native_only.iter().find(|(_, given)| *given) {
        bail!(
            "{option} does not apply with --engine locust: the locustfile decides what Locust's users do"
        );
    }
    check_counts(args)?;
    let mut required_percentiles = Vec::new();
    if thresholds.max_p95.is_some() {
        required_percentiles.push("95".to_string());
    }
    if thresholds.max_p99.is_some() {
        required_percentiles.push("99".to_string());
    }
    Ok(LocustPlan {
        users: args.users,
        spawn_rate: args.spawn_rate.unwrap_or(1.0),
        host: args.host.clone(),
        run_time: args.run_time,
        iterations: args.iterations,
        // Locust clears its numbers when a swarm starts from idle but not when it re-scales a
        // running one; clearing first makes both count only this run.
        reset_first: true,
        required_percentiles,
    })
}

/// The checks on users, spawn rate, iterations and run time that both engines share.
fn check_counts(args: &LoadArgs) -> anyhow::Result<()> {
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
    Ok(())
}

/// Turns the options into a plan, refusing anything that cannot run before a request is sent.
pub fn plan_from(args: &LoadArgs) -> anyhow::Result<SwarmPlan> {
    check_counts(args)?;
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

/// Refuses an output path whose directory does not exist, before any load is sent.
pub fn check_output_directory(option: &str, path: &std::path::Path) -> anyhow::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !directory.is_dir() {
        bail!(
            "{option} {}: directory {} does not exist; create it or choose another path",
            path.display(),
            directory.display()
        );
    }
    Ok(())
}
