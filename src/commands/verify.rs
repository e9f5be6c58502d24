//! `thidctl verify`: the runbook's "Verify:" items as checks with evidence — Locust aimed at the
//! service, requests growing with no failures, and the dashboard's service and Locust panels
//! showing fresh data in Prometheus.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::OutputFormat;
use crate::config::{Config, ConfigArgs};
use crate::locust::LocustClient;
use crate::prom::{Dashboard, Prometheus, Substitution, check_panels};
use crate::runbook::{Reporter, state};
use crate::units::parse_duration;
use crate::verify::{Check, CheckStatus, VerifyReport, render, swarm_checks};

/// Rows of the shipped dashboard that the runbook says must fill in.
const REQUIRED_ROWS: [&str; 2] = ["Thidwick-Starter", "Locust"];

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Prometheus base URL [default: the forward `thidctl up` opened, else http://127.0.0.1:9090].
    #[arg(long, env = "THIDCTL_PROMETHEUS_URL")]
    pub prometheus: Option<String>,
    /// Locust web UI [default: the forward `thidctl up` opened, else http://127.0.0.1:8089].
    #[arg(long, env = "THIDCTL_LOCUST_URL")]
    pub locust_url: Option<String>,
    /// Grafana dashboard JSON whose panels must show data [default: the shipped Thidwick-Starter one].
    #[arg(long)]
    pub dashboard: Option<PathBuf>,
    /// The host Locust must be aimed at [default: the locust4thidwick release's master.config.target-host].
    #[arg(long)]
    pub expected_host: Option<String>,
    /// How long to watch the #requests column grow.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub window: Duration,
    /// Highest share of failed requests in the window that still passes.
    #[arg(long, default_value_t = 0.0)]
    pub fail_ratio: f64,
    /// How long to wait through scrape cycles for the panels to fill in.
    #[arg(long, default_value = "3m", value_parser = parse_duration)]
    pub wait: Duration,
    /// Skip checks whose name contains this text (repeatable).
    #[arg(long)]
    pub skip: Vec<String>,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Also write the checks as JUnit XML for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

pub fn execute(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let config = Config::load(&args.config)?;
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.fail_ratio),
        "--fail-ratio {} is not a share; give a number from 0 to 1",
        args.fail_ratio
    );
    let (prometheus_url, locust_url) = endpoints(&args, &config);
    let prometheus = Prometheus::new(&prometheus_url)?;
    let locust = LocustClient::new(&locust_url)?;
    let expected_host = args.expected_host.clone().unwrap_or_else(|| {
        config
            .releases
            .iter()
            .find_map(|r| r.set.get("master.config.target-host").cloned())
            .unwrap_or_else(|| "http://thidwick-thidwick-starter:8080".into())
    });
    let dashboard_path = args.dashboard.clone().unwrap_or_else(|| {
        config.path(std::path::Path::new(
            "charts/monitoring/dashboards/thidwick-starter.json",
        ))
    });
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let checks = runtime.block_on(run_checks(
        &args,
        &config,
        &prometheus,
        &locust,
        &expected_host,
        &dashboard_path,
    ));
    let checks = checks
        .into_iter()
        .map(|check| {
            if args.skip.iter().any(|s| check.name.contains(s.as_str())) {
                Check {
                    status: CheckStatus::Skipped,
                    summary: "skipped with --skip".into(),
                    ..check
                }
            } else {
                check
            }
        })
        .collect();
    let report = VerifyReport::new(checks);
    match args.output {
        OutputFormat::Text => print!("{}", render::table(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, render::junit(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if report.passed {
        Outcome::Passed
    } else {
        Outcome::ChecksFailed
    })
}

/// Where Prometheus and Locust answer: flags, else the forwards of a detached `up`, else the
/// runbook's usual ports on 127.0.0.1.
fn endpoints(args: &VerifyArgs, config: &Config) -> (String, String) {
    let forwarded =
        |name: &str| state::forwarded_url(config.context.as_deref(), &config.namespace, name);
    let prometheus = args
        .prometheus
        .clone()
        .or_else(|| forwarded("prometheus"))
        .unwrap_or_else(|| "http://127.0.0.1:9090".into());
    let locust = args
        .locust_url
        .clone()
        .or_else(|| forwarded("locust"))
        .unwrap_or_else(|| "http://127.0.0.1:8089".into());
    (prometheus, locust)
}

async fn run_checks(
    args: &VerifyArgs,
    config: &Config,
    prometheus: &Prometheus,
    locust: &LocustClient,
    expected_host: &str,
    dashboard_path: &std::path::Path,
) -> Vec<Check> {
    let reporter = Reporter::new(args.output == OutputFormat::Json);
    reporter.note(&format!(
        "verifying: Locust at {}, Prometheus at {}, dashboard {}",
        locust.base_url(),
        prometheus.base_url(),
        dashboard_path.display()
    ));
    let swarm = async {
        let started = Instant::now();
        let aimed = match locust.target_host().await {
            Ok(host) => swarm_checks::aimed_at(host.as_deref(), expected_host),
            Err(error) => Check::new(swarm_checks::AIMED_AT, CheckStatus::Fail, error.to_string()),
        }
        .timed(started.elapsed());
        let growth = swarm_checks::sample_growth(
            args.window,
            Duration::from_secs(5),
            args.fail_ratio,
            || async {
                let stats = locust.stats().await?;
                Ok((stats.total.requests, stats.total.failures, stats.users))
            },
        )
        .await;
        vec![aimed, growth]
    };
    let panels = async {
        let started = Instant::now();
        let dashboard = match Dashboard::load(dashboard_path) {
            Ok(dashboard) => dashboard,
            Err(error) => {
                return vec![
                    Check::new("Dashboard", CheckStatus::Fail, error.to_string())
                        .timed(started.elapsed()),
                ];
            }
        };
        let scrape_interval = match prometheus.scrape_interval().await {
            Ok(Some(interval)) => interval,
            _ => Duration::from_secs(20),
        };
        let substitution = Substitution {
            scrape_interval,
            range: dashboard.time_range().unwrap_or(Duration::from_secs(3600)),
            variables: BTreeMap::from([("namespace".to_string(), config.namespace.clone())]),
        };
        let select = |panel: &crate::prom::Panel| {
            panel
                .row
                .as_deref()
                .is_some_and(|row| REQUIRED_ROWS.contains(&row))
        };
        let mut last_note = Instant::now() - Duration::from_secs(60);
        let mut progress = |done: usize, total: usize, pending: &[String]| {
            if last_note.elapsed() >= Duration::from_secs(10) && !pending.is_empty() {
                last_note = Instant::now();
                reporter.note(&format!(
                    "  panels with fresh data: {done}/{total}; waiting for {}",
                    pending.join(", ")
                ));
            }
        };
        check_panels(
            prometheus,
            &dashboard,
            &substitution,
            &select,
            args.wait,
            Duration::from_secs(5),
            &mut progress,
        )
        .await
    };
    let (mut checks, panel_checks) = tokio::join!(swarm, panels);
    checks.extend(panel_checks);
    checks
}
