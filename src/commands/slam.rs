//! `thidctl slam`: the runbook's "try slamming Thidwick", done by measurement — stepped load
//! until the service-level objective breaks, and the knee reported.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use super::load::{Engine, LoadArgs, LocustLocation, locust_plan_from, plan_from};
use crate::Outcome;
use crate::cli::OutputFormat;
use crate::incluster::{self, InClusterArgs};
use crate::locust::{LocustClient, LocustPlan};
use crate::report::LoadReport;
use crate::report::live::LiveView;
use crate::slam::objective::parse_steps;
use crate::slam::run::{StepRun, slam};
use crate::slam::{Objective, SlamReport, SlamStep};
use crate::thresholds::Thresholds;
use crate::units::{WaitRange, parse_duration};
use crate::{interrupt, swarm};

#[derive(Debug, clap::Args)]
pub struct SlamArgs {
    /// Users at each step, rising.
    #[arg(long, default_value = "50,100,200,500,1000")]
    pub steps: String,
    /// How long each step holds its users (long enough for a stable reading).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub step_time: Duration,
    /// Users started per second in each step [default: the whole step within a second].
    #[arg(long)]
    pub spawn_rate: Option<f64>,
    /// Extra steps that bisect between the knee and the breaking step.
    #[arg(long, default_value_t = 2)]
    pub refine: u32,
    /// The objective: p95 above this breaks it (e.g. 500ms).
    #[arg(long, value_parser = parse_duration)]
    pub max_p95: Option<Duration>,
    /// The objective: p95 above this many times the first step's breaks it.
    #[arg(long, default_value_t = 3.0)]
    pub p95_factor: f64,
    /// The objective: a failed share above this breaks it.
    #[arg(long, default_value_t = 0.01)]
    pub max_fail_ratio: f64,
    /// The objective: throughput has stopped rising when a step gains less than this share of
    /// the growth its extra users promise.
    #[arg(long, default_value_t = 0.25)]
    pub min_rps_gain: f64,
    /// Who makes the requests.
    #[arg(long, value_enum, default_value_t)]
    pub engine: Engine,
    /// Base URL of the service (native engine), e.g. http://127.0.0.1:8080.
    #[arg(long, short = 'H', env = "THIDCTL_HOST")]
    pub host: Option<String>,
    /// YAML scenario of weighted requests (native engine).
    #[arg(long, short = 'f', conflicts_with = "path")]
    pub scenario: Option<PathBuf>,
    /// A single path every user requests with GET (native engine) [default: /].
    #[arg(long)]
    pub path: Option<String>,
    /// Wait between a user's tasks (native engine) [default: none].
    #[arg(long)]
    pub wait: Option<WaitRange>,
    /// Give up on a request after this long (native engine).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Worker threads (native engine).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub locust: LocustLocation,
    #[command(flatten)]
    pub cluster: InClusterArgs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Also write a self-contained HTML report: the steps with the knee marked, charts over time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

impl SlamArgs {
    /// The `load` options of one step, so that a step is validated and run exactly as
    /// `thidctl load` would run it.
    fn step(&self, users: u64) -> LoadArgs {
        LoadArgs {
            engine: self.engine,
            locust: self.locust.clone(),
            cluster: self.cluster.clone(),
            host: self.host.clone(),
            users,
            spawn_rate: Some(self.spawn_rate.unwrap_or(users as f64)),
            run_time: Some(self.step_time),
            scenario: self.scenario.clone(),
            path: self.path.clone(),
            wait: self.wait,
            timeout: self.timeout,
            threads: self.threads,
            ..LoadArgs::default()
        }
    }

    fn objective(&self) -> anyhow::Result<Objective> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.max_fail_ratio),
            "--max-fail-ratio {} is not a share; give a number from 0 to 1",
            self.max_fail_ratio
        );
        anyhow::ensure!(
            self.p95_factor > 1.0,
            "--p95-factor {} must be above 1, e.g. 3",
            self.p95_factor
        );
        anyhow::ensure!(
            self.min_rps_gain >= 0.0,
            "--min-rps-gain {} must not be negative",
            self.min_rps_gain
        );
        anyhow::ensure!(
            !self.step_time.is_zero(),
            "--step-time 0s measures nothing; give e.g. 30s"
        );
        Ok(Objective {
            max_p95_ms: self.max_p95.map(|d| d.as_secs_f64() * 1e3),
            p95_growth_factor: self.p95_factor,
            max_fail_ratio: self.max_fail_ratio,
            min_rps_gain: self.min_rps_gain,
        })
    }
}

pub fn execute(args: SlamArgs) -> anyhow::Result<Outcome> {
    let steps = parse_steps(&args.steps).map_err(anyhow::Error::msg)?;
    let objective = args.objective()?;
    if let Some(path) = &args.html {
        super::load::check_output_directory("--html", path)?;
    }
    // Check every step's options before the first request is sent.
    for &users in &steps {
        match args.engine {
            Engine::Native if args.cluster.in_cluster => {
                let step = args.step(users);
                incluster::check(&step, &args.cluster)?;
                drop(plan_from(&incluster::with_target(&step)?)?);
            }
            Engine::Native => drop(plan_from(&args.step(users))?),
            Engine::Locust if args.cluster.in_cluster => anyhow::bail!(
                "--in-cluster runs thidctl's own swarm; with --engine locust, Locust already runs in the cluster"
            ),
            Engine::Locust => drop(locust_step_plan(&args.step(users))?),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args, steps, objective))
}

/// Locust's plan for one step. The objective judges p95, so a Locust that does not report it
/// (0.8 gives only the median) is refused before the first step rather than judged on nothing.
fn locust_step_plan(step: &LoadArgs) -> anyhow::Result<LocustPlan> {
    let mut plan = locust_plan_from(step, &Thresholds::default())?;
    plan.required_percentiles.push("95".to_string());
    Ok(plan)
}

async fn run(args: SlamArgs, steps: Vec<u64>, objective: Objective) -> anyhow::Result<Outcome> {
    let interrupt = interrupt::install();
    let locust = match args.engine {
        Engine::Locust => Some(LocustClient::new(&args.locust.url())?),
        Engine::Native => None,
    };
    let quiet = args.output == OutputFormat::Json;
    let report = slam(
        &steps,
        args.refine,
        objective,
        interrupt.clone(),
        |users| {
            let step = args.step(users);
            let interrupt = interrupt.clone();
            let locust = locust.as_ref();
            async move {
                if !quiet {
                    eprintln!(
                        "==> step: {users} users for {:.0}s",
                        step.run_time.unwrap_or_default().as_secs_f64()
                    );
                }
                let mut live = LiveView::new(quiet);
                let outcome = match locust {
                    Some(client) => {
                        let plan = locust_step_plan(&step)?;
                        let run =
                            crate::locust::run(client, &plan, interrupt, |line| live.update(line))
                                .await?;
                        StepRun {
                            report: run.report,
                            interrupted: run.interrupted,
                        }
                    }
                    None if step.cluster.in_cluster => {
                        let run =
                            crate::incluster::run_load(&step, &step.cluster, interrupt, &mut live)
                                .await?;
                        let interrupted = run.swarm.end == swarm::EndReason::Interrupted;
                        if !interrupted {
                            for problem in &run.worker_problems {
                                eprintln!("worker did not finish: {problem}");
                            }
                        }
                        StepRun {
                            interrupted,
                            report: LoadReport::from_swarm(&run.swarm),
                        }
                    }
                    None => {
                        let plan = plan_from(&step)?;
                        let result =
                            super::load::run_swarm(plan, None, interrupt, &mut live, |_, _| {})
                                .await?;
                        StepRun {
                            interrupted: result.end == swarm::EndReason::Interrupted,
                            report: LoadReport::from_swarm(&result),
                        }
                    }
                };
                live.finish();
                Ok(outcome)
            }
        },
        |step: &SlamStep| {
            if !quiet {
                eprintln!("{}", step_line(step));
            }
        },
    )
    .await?;
    match args.output {
        OutputFormat::Text => print!("{}", render(&report)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if let Some(path) = &args.html {
        crate::report::html::write(path, &crate::report::html::render_slam(&report))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if report.interrupted {
        Outcome::Interrupted
    } else if report.knee.is_none() {
        // Not even the first step met the objective.
        Outcome::ChecksFailed
    } else {
        Outcome::Passed
    })
}

fn step_line(step: &SlamStep) -> String {
    format!(
        "{} {:>6} users {:>9.1} req/s  p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms  failed {:>6.2}%{}",
        if step.met { "✓" } else { "✗" },
        step.users,
        step.rps,
        step.p50_ms,
        step.p95_ms,
        step.p99_ms,
        step.fail_ratio * 100.0,
        if step.reasons.is_empty() {
            String::new()
        } else {
            format!("  {}", step.reasons.join("; "))
        }
    )
}

/// The step table with the knee and the break spelled out.
pub fn render(report: &SlamReport) -> String {
    let mut out = format!("Slam of {} ({} engine)\n\n", report.target, report.engine);
    out.push_str(&format!(
        "{:>4} {:>7} {:>10} {:>9} {:>9} {:>9} {:>8}  VERDICT\n",
        "STEP", "USERS", "REQ/S", "P50 ms", "P95 ms", "P99 ms", "FAIL%"
    ));
    for (index, step) in report.steps.iter().enumerate() {
        let mark = if report.knee.as_ref().is_some_and(|k| k.step == index) {
            "knee ✓"
        } else if report.broke.as_ref().is_some_and(|b| b.step == index) {
            "broke ✗"
        } else if step.met {
            "met"
        } else {
            "missed"
        };
        out.push_str(&format!(
            "{:>4} {:>7} {:>10.1} {:>9.1} {:>9.1} {:>9.1} {:>8.2}  {mark}\n",
            index + 1,
            step.users,
            step.rps,
            step.p50_ms,
            step.p95_ms,
            step.p99_ms,
            step.fail_ratio * 100.0
        ));
    }
    out.push('\n');
    match &report.knee {
        Some(knee) => out.push_str(&format!(
            "Knee: {} users, {:.1} req/s, p95 {:.1} ms — the last step that met the objective.\n",
            knee.users, knee.rps, knee.p95_ms
        )),
        None => out.push_str("No knee: the first step already broke the objective.\n"),
    }
    match &report.broke {
        Some(breach) => out.push_str(&format!(
            "Broke at {} users: {}.\n",
            breach.users,
            breach.reasons.join("; ")
        )),
        None if !report.interrupted => {
            out.push_str("Every step met the objective: add larger steps to find the knee.\n")
        }
        None => {}
    }
    if report.interrupted {
        out.push_str("Interrupted by Ctrl-C: the steps above are what was measured.\n");
    }
    out
}
