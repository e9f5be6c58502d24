//! `thidctl worker` (hidden): one pod of an in-cluster load run. It runs its share of the swarm
//! `load` would run and prints its cumulative numbers as wire lines (see `swarm::wire`) for a
//! coordinator to merge exactly. Stdout holds those lines only; stderr a line at the start and
//! one at the end.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

use crate::cli::OutputFormat;
use crate::commands::load::{self, Engine, LoadArgs};
use crate::report::live::LiveView;
use crate::swarm::plan::{Model, SwarmPlan};
use crate::swarm::wire::{self, WireBatch};
use crate::swarm::{Collector, EndReason};
use crate::{Outcome, interrupt};

/// How often a snapshot line is printed while running; a killed worker loses at most this much.
/// Also how fresh the coordinator's live view is.
const LINE_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    /// How many workers share the swarm; users, spawn rate, rate and iterations are split.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub share_of: u64,
    /// This worker's number among them, from 0 (an indexed Kubernetes Job sets it).
    #[arg(long, env = "JOB_COMPLETION_INDEX", default_value_t = 0)]
    pub index: u64,
}

/// One worker's part of a swarm split `of` ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub index: u64,
    pub of: u64,
}

impl Share {
    /// `total / of`, plus one for the first `total % of` workers: the parts add up to `total`.
    pub fn part(self, total: u64) -> u64 {
        total / self.of + u64::from(self.index < total % self.of)
    }

    /// Narrows a whole swarm's plan to this worker's part; all parts together are the swarm.
    pub fn apply(self, plan: &mut SwarmPlan) {
        let of = self.of as f64;
        plan.users = self.part(plan.users);
        plan.spawn_rate /= of;
        plan.iterations = plan.iterations.map(|total| self.part(total));
        if let Model::Open(schedule) = &mut plan.model {
            schedule.rate /= of;
            schedule.connections = self.part(schedule.connections);
        }
    }
}

pub fn execute(args: WorkerArgs) -> anyhow::Result<Outcome> {
    let share = check(&args)?;
    let mut plan = load::plan_from(&args.load)?;
    share.apply(&mut plan);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(&args, plan, share))
}

/// Refuses what a worker cannot honour: the coordinator judges, reports and writes files from
/// the merged numbers, and every worker needs at least one user and one iteration.
fn check(args: &WorkerArgs) -> anyhow::Result<Share> {
    let load = &args.load;
    if load.cluster.in_cluster {
        bail!("--in-cluster does not apply to a worker: it is one of the pods such a run starts");
    }
    if load.engine == Engine::Locust {
        bail!("--engine locust does not apply to a worker: workers are thidctl's own swarm");
    }
    let coordinator_only = [
        ("--output json", load.output == OutputFormat::Json),
        ("--csv", load.csv.is_some()),
        ("--html", load.html.is_some()),
        ("--fail-ratio", load.fail_ratio.is_some()),
        ("--max-p95", load.max_p95.is_some()),
        ("--max-p99", load.max_p99.is_some()),
        ("--min-rps", load.min_rps.is_some()),
    ];
    if let Some((option, _)) = coordinator_only.iter().find(|(_, given)| *given) {
        bail!("{option} does not apply to a worker: the coordinator reports the merged numbers");
    }
    if args.share_of == 0 {
        bail!("--share-of 0 leaves nobody to run; give the number of workers, e.g. 4");
    }
    if args.index >= args.share_of {
        bail!(
            "worker index {} (JOB_COMPLETION_INDEX) is not below --share-of {}",
            args.index,
            args.share_of
        );
    }
    check_split(load, args.share_of)?;
    Ok(Share {
        index: args.index,
        of: args.share_of,
    })
}

/// Refuses a swarm that cannot give each of `workers` shares a user and an iteration; both a
/// worker and the coordinator that starts the workers ask.
pub fn check_split(load: &LoadArgs, workers: u64) -> anyhow::Result<()> {
    if load.users < workers {
        bail!(
            "--users {} cannot be split over {workers} workers; give at least one user each",
            load.users
        );
    }
    if let Some(iterations) = load.iterations
        && iterations < workers
    {
        bail!(
            "--iterations {iterations} cannot be split over {workers} workers; give at least one each"
        );
    }
    Ok(())
}

async fn run(args: &WorkerArgs, plan: SwarmPlan, share: Share) -> anyhow::Result<Outcome> {
    // Kubernetes stops a pod with SIGTERM, which stops the swarm like a first Ctrl-C: the
    // worker still prints its final line.
    let stop = interrupt::install();
    eprintln!(
        "worker {} of {}: {} users, {} iterations",
        share.index,
        share.of,
        plan.users,
        plan.iterations
            .map_or_else(|| "unbounded".to_string(), |n| n.to_string())
    );
    // Nothing on stderr while snapshots are printed: a pod's stdout and stderr meet in one
    // log, and the runtime cuts lines longer than 16 KiB into pieces that a stderr line can
    // land between, which would spoil the snapshot it cut.
    let mut live = LiveView::Quiet;
    let mut last_line: Option<Instant> = None;
    let result = super::load::run_swarm(
        plan,
        args.load.metrics_listen,
        stop,
        &mut live,
        |collector, _| {
            // Ticks come a second apart, give or take; half a tick of slack keeps to every fifth.
            let due =
                last_line.is_none_or(|at| at.elapsed() + Duration::from_millis(500) >= LINE_EVERY);
            if due && collector.started.elapsed() + Duration::from_millis(500) >= LINE_EVERY {
                last_line = Some(Instant::now());
                print_line(&snapshot(collector, collector.started.elapsed()));
            }
        },
    )
    .await?;
    let mut last = snapshot(&result.collector, result.elapsed);
    last.done = true;
    eprintln!(
        "worker {} of {}: done after {:.1}s ({:?}): {} requests, {} failures",
        share.index,
        share.of,
        last.elapsed_s,
        result.end,
        last.requests.iter().map(|r| r.requests).sum::<u64>(),
        last.requests.iter().map(|r| r.failures).sum::<u64>()
    );
    print_line(&last);
    Ok(if result.end == EndReason::Interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Passed
    })
}

fn snapshot(collector: &Collector, elapsed: Duration) -> WireBatch {
    let started_unix = collector
        .started_wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    wire::to_wire(
        &collector.total,
        collector.users(),
        collector.started,
        started_unix,
        elapsed,
    )
}

/// One whole line per write, so a reader never sees two snapshots interleaved. A coordinator
/// that went away is no reason to stop the load, so a failed write is ignored.
fn print_line(wire: &WireBatch) {
    let line = format!("{}\n", wire.to_line());
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(line.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_to_the_whole() {
        for total in [6, 7, 400, 401, 1] {
            let of = 3.min(total);
            let parts: Vec<u64> = (0..of)
                .map(|index| Share { index, of }.part(total))
                .collect();
            assert_eq!(parts.iter().sum::<u64>(), total, "{parts:?}");
            assert!(parts.iter().max().unwrap() - parts.iter().min().unwrap() <= 1);
        }
    }
}
