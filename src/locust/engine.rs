//! One load run on Locust: swarm, follow the statistics once a second, stop, report.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::client::LocustClient;
use super::error::LocustError;
use super::stats::{LocustStats, cause_of};
use crate::report::live::LiveLine;
use crate::report::load::{FailureRow, LoadReport, ModelSummary, SCHEMA_ID};
use crate::swarm::EndReason;
use crate::swarm::collector::{HistoryRow, PERCENTILES};

const TICK: Duration = Duration::from_secs(1);
/// `/stats/requests` is cached for 2 s in every Locust version; an answer fetched this long
/// after the stop was computed after it.
const STATS_CACHE: Duration = Duration::from_millis(2100);
/// How long Locust may take to report its users starting (2 s of cache, then the spawn).
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a master may take to collect its workers' last numbers after the stop.
const SETTLE: Duration = Duration::from_secs(8);

/// What to ask of Locust.
#[derive(Debug, Clone)]
pub struct LocustPlan {
    pub users: u64,
    pub spawn_rate: f64,
    /// Re-aims Locust (sent with `/swarm`); `None` keeps the host it is configured with.
    pub host: Option<String>,
    pub run_time: Option<Duration>,
    /// Stop once Locust has counted this many requests. Locust is polled once a second and
    /// caches its numbers for 2 s, so it overshoots by up to three seconds' worth.
    pub iterations: Option<u64>,
    /// Clear Locust's statistics first, so a swarm that was already running counts from now.
    pub reset_first: bool,
    /// Percentile labels ("95", "99") the caller will judge; refused before swarming when this
    /// Locust does not report them, instead of judging a 0.
    pub required_percentiles: Vec<String>,
}

pub struct LocustRun {
    pub report: LoadReport,
    /// Stopped by Ctrl-C, or from outside (the web UI's Stop, Locust's own run time).
    pub interrupted: bool,
}

/// Starts the swarm, follows `/stats/requests` once a second (live view through `on_tick`,
/// history rows), stops after the run time, at Ctrl-C (`interrupt`) or when the iterations are
/// reached, then builds a report with engine "locust". Always sends `/stop` at the end, also on
/// Ctrl-C or error, so no swarm is left running.
pub async fn run(
    client: &LocustClient,
    plan: &LocustPlan,
    interrupt: watch::Receiver<bool>,
    mut on_tick: impl FnMut(&LiveLine),
) -> Result<LocustRun, LocustError> {
    let before = preflight(client, plan).await?;
    let target = match &plan.host {
        Some(host) => host.clone(),
        None => client
            .target_host()
            .await?
            .unwrap_or_else(|| "(the locustfile's own hosts)".to_string()),
    };
    let mut follow = Follower::new(plan.users);
    let driven = drive(client, plan, interrupt, &mut on_tick, &mut follow).await;
    let stopped = client.stop().await;
    let stopped_at = Instant::now();
    follow.ran = stopped_at.duration_since(follow.started);
    let end = driven?;
    stopped?;
    let mut last = match settle(client, stopped_at).await {
        Some(stats) => stats,
        None => follow.last.clone().unwrap_or(before),
    };
    // A supplement: without it the report shows the percentiles this Locust's JSON lacks as n/a.
    if let Ok(Some(table)) = client.percentile_table().await {
        last.fill_percentiles(&table);
    }
    let report = follow.report(&last, plan, target, end);
    Ok(LocustRun {
        report,
        interrupted: end == EndReason::Interrupted,
    })
}

/// Refuses what would swarm to no effect or be judged on numbers Locust does not have.
async fn preflight(client: &LocustClient, plan: &LocustPlan) -> Result<LocustStats, LocustError> {
    client.generation().await?;
    let stats = client.stats().await?;
    if stats.workers == Some(0) {
        return Err(LocustError::Refused {
            message: "the Locust master has no workers connected; check its worker pods".into(),
        });
    }
    // Even an idle Locust lists the percentiles it reports: in its JSON's aggregate row, and
    // as the columns of its CSV download, which has more of them.
    let in_json = |label: &String| stats.total.percentiles_ms.contains_key(label);
    let table = if plan.required_percentiles.iter().all(in_json) {
        None
    } else {
        client.percentile_table().await?
    };
    if let Some(missing) = plan
        .required_percentiles
        .iter()
        .find(|label| !in_json(label) && !table.as_ref().is_some_and(|t| t.offers(label)))
    {
        let mut reported: Vec<&str> = stats
            .total
            .percentiles_ms
            .keys()
            .map(String::as_str)
            .chain(
                table
                    .iter()
                    .flat_map(|t| t.offered.iter().map(String::as_str)),
            )
            .collect();
        let percent = |label: &str| label.parse::<f64>().unwrap_or(f64::MAX);
        reported.sort_by(|a, b| percent(a).total_cmp(&percent(b)));
        reported.dedup();
        return Err(LocustError::Refused {
            message: format!(
                "this Locust does not report a {missing}th percentile (it reports {}), so it cannot be judged",
                reported.join(", ")
            ),
        });
    }
    Ok(stats)
}

async fn drive(
    client: &LocustClient,
    plan: &LocustPlan,
    mut interrupt: watch::Receiver<bool>,
    on_tick: &mut impl FnMut(&LiveLine),
    follow: &mut Follower,
) -> Result<EndReason, LocustError> {
    if plan.reset_first {
        client.reset().await?;
    }
    client
        .swarm(plan.users, plan.spawn_rate, plan.host.as_deref())
        .await?;
    follow.start();
    let deadline = plan.run_time.map(|run_time| follow.started + run_time);
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut interrupt_live = true;
    loop {
        if *interrupt.borrow() {
            return Ok(EndReason::Interrupted);
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return Ok(EndReason::RunTime);
        }
        let stats = client.stats().await?;
        if let Some(line) = follow.observe(stats) {
            on_tick(&line);
        } else if follow.started.elapsed() > START_LIMIT {
            return Err(LocustError::Refused {
                message: format!(
                    "Locust accepted the swarm but reported no users starting within {START_LIMIT:?}"
                ),
            });
        }
        if let Some(last) = &follow.last {
            if plan.iterations.is_some_and(|n| last.total.requests >= n) {
                return Ok(EndReason::Iterations);
            }
            if !last.is_active() && last.state != "stopping" {
                return Ok(EndReason::Interrupted);
            }
        }
        let until_deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ticks.tick() => {}
            () = until_deadline => {}
            changed = interrupt.changed(), if interrupt_live => {
                // A dropped sender means no Ctrl-C can come any more.
                interrupt_live = changed.is_ok();
            }
        }
    }
}

/// Locust's numbers once the stop has reached them; `None` when it did not answer.
async fn settle(client: &LocustClient, stopped_at: Instant) -> Option<LocustStats> {
    tokio::time::sleep_until((stopped_at + STATS_CACHE).into()).await;
    let mut last = None;
    while stopped_at.elapsed() < SETTLE {
        match client.stats().await {
            Ok(stats) if !stats.is_active() && stats.state != "stopping" => return Some(stats),
            Ok(stats) => last = Some(stats),
            Err(_) => break,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

/// What thidctl learns by watching: Locust keeps no history in its API, and 0.8–2.12 do not
/// say when an error was first and last seen.
struct Follower {
    target_users: u64,
    started: Instant,
    started_wall: SystemTime,
    /// From the swarm to the stop; the wait for Locust's final numbers does not count.
    ran: Duration,
    peak_users: u64,
    history: Vec<HistoryRow>,
    /// (method, name, error) → (first seen, last seen, occurrences then), Unix seconds.
    errors_seen: HashMap<(String, String, String), (f64, f64, u64)>,
    /// The last answer that belongs to this run.
    last: Option<LocustStats>,
}

impl Follower {
    fn new(target_users: u64) -> Follower {
        Follower {
            target_users,
            started: Instant::now(),
            started_wall: SystemTime::now(),
            ran: Duration::ZERO,
            peak_users: 0,
            history: Vec::new(),
            errors_seen: HashMap::new(),
            last: None,
        }
    }

    fn start(&mut self) {
        self.started = Instant::now();
        self.started_wall = SystemTime::now();
    }

    /// Takes in one answer; `None` while Locust's cache still shows the time before the swarm.
    fn observe(&mut self, stats: LocustStats) -> Option<LiveLine> {
        if self.last.is_none() && !stats.is_active() {
            return None;
        }
        let elapsed = self.started.elapsed();
        let now = unix_seconds(SystemTime::now());
        self.peak_users = self.peak_users.max(stats.users);
        for error in &stats.errors {
            let key = (
                error.method.clone(),
                error.name.clone(),
                error.error.clone(),
            );
            let seen = self.errors_seen.entry(key).or_insert((now, now, 0));
            if error.occurrences > seen.2 {
                *seen = (seen.0, now, error.occurrences);
            }
        }
        self.history.push(history_row(&stats, now, elapsed));
        let line = LiveLine {
            elapsed,
            users: stats.users,
            target_users: self.target_users,
            requests_per_s: stats.current_rps,
            requests: stats.total.requests,
            failures: stats.total.failures,
            p50_ms: stats.current_p50_ms,
            p95_ms: stats.current_p95_ms,
        };
        self.last = Some(stats);
        Some(line)
    }

    fn report(
        &self,
        last: &LocustStats,
        plan: &LocustPlan,
        target: String,
        end: EndReason,
    ) -> LoadReport {
        let elapsed = self.ran;
        let ended = unix_seconds(self.started_wall + self.ran);
        let failures = last
            .errors
            .iter()
            .filter(|error| error.occurrences > 0)
            .map(|error| {
                let key = (
                    error.method.clone(),
                    error.name.clone(),
                    error.error.clone(),
                );
                let (first, last_seen, _) = self
                    .errors_seen
                    .get(&key)
                    .copied()
                    .unwrap_or((ended, ended, 0));
                FailureRow {
                    method: error.method.clone(),
                    name: error.name.clone(),
                    cause: cause_of(&error.error),
                    error: error.error.clone(),
                    occurrences: error.occurrences,
                    first_seen_unix: error.first_seen_unix.unwrap_or(first),
                    last_seen_unix: error.last_seen_unix.unwrap_or(last_seen),
                }
            })
            .collect();
        LoadReport {
            schema: SCHEMA_ID,
            engine: "locust",
            target,
            // The waits between tasks live in the locustfile, which the web API does not show:
            // they are reported as 0.
            model: ModelSummary::Closed {
                users: plan.users,
                spawn_rate: plan.spawn_rate,
                wait_min_ms: 0.0,
                wait_max_ms: 0.0,
            },
            started_at_unix: unix_seconds(self.started_wall),
            duration_s: elapsed.as_secs_f64(),
            end,
            peak_users: self.peak_users.max(last.users),
            requests: last
                .rows
                .iter()
                .map(|row| row.to_request_row(elapsed))
                .collect(),
            aggregated: last.total.to_request_row(elapsed),
            failures,
            open_model: None,
            history: self.history.clone(),
            thresholds: Vec::new(),
            passed: true,
        }
    }
}

/// Locust's API gives current percentiles for the median and the 95th only; the other
/// columns of the history row are 0.
fn history_row(stats: &LocustStats, now: f64, elapsed: Duration) -> HistoryRow {
    let total = &stats.total;
    HistoryRow {
        timestamp: now as u64,
        elapsed_s: elapsed.as_secs_f64(),
        users: stats.users,
        current_rps: total.current_rps,
        current_fail_per_s: total.current_fail_per_s,
        current_percentiles_ms: PERCENTILES
            .iter()
            .map(|&q| match q {
                0.5 => stats.current_p50_ms,
                0.95 => stats.current_p95_ms,
                _ => 0.0,
            })
            .collect(),
        total_requests: total.requests,
        total_failures: total.failures,
        total_median_ms: total.median_ms,
        total_average_ms: total.average_ms,
        total_min_ms: total.min_ms,
        total_max_ms: total.max_ms,
        total_average_content_size: total.average_content_size,
    }
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds::Thresholds;

    fn fixture(name: &str) -> LocustStats {
        let path = format!(
            "{}/tests/fixtures/locust/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        LocustStats::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn plan() -> LocustPlan {
        LocustPlan {
            users: 5,
            spawn_rate: 5.0,
            host: None,
            run_time: Some(Duration::from_secs(5)),
            iterations: None,
            reset_first: true,
            required_percentiles: Vec::new(),
        }
    }

    #[test]
    fn report_from_recorded_stats() {
        let stats = fixture("stats-2.47-running.json");
        let mut follow = Follower::new(5);
        follow.start();
        assert!(follow.observe(stats.clone()).is_some());
        let report = follow.report(&stats, &plan(), "http://x".into(), EndReason::RunTime);
        assert_eq!(report.engine, "locust");
        assert_eq!(report.requests.len(), 1);
        assert_eq!(report.aggregated.name, "Aggregated");
        assert_eq!(report.aggregated.requests, 1074);
        assert_eq!(report.peak_users, 5);
        assert_eq!(report.history.len(), 1);
        assert_eq!(report.history[0].current_percentiles_ms[0], 3.0);
        assert_eq!(report.history[0].current_percentiles_ms[5], 10.0);
        let failure = &report.failures[0];
        assert_eq!(failure.cause, "status");
        assert_eq!(failure.occurrences, 322);
        assert_eq!(failure.first_seen_unix, 1796305427.3574681);
    }

    #[test]
    fn errors_without_times_get_the_times_seen() {
        let stats = fixture("stats-0.8.json");
        let mut follow = Follower::new(40);
        follow.start();
        follow.observe(stats.clone());
        let report = follow.report(&stats, &plan(), "http://x".into(), EndReason::RunTime);
        let failure = &report.failures[0];
        assert_eq!(failure.occurrences, 600);
        assert!(failure.first_seen_unix > 1.7e9);
        assert!(failure.last_seen_unix >= failure.first_seen_unix);
    }

    #[test]
    fn stale_answers_before_the_swarm_are_skipped() {
        let mut follow = Follower::new(5);
        assert!(follow.observe(fixture("stats-2.47-ready.json")).is_none());
        assert!(follow.history.is_empty());
        assert!(follow.observe(fixture("stats-2.47-running.json")).is_some());
    }

    #[test]
    fn thresholds_judge_a_locust_report() {
        let stats = fixture("stats-2.47-running.json");
        let follow = Follower::new(5);
        let report = follow.report(&stats, &plan(), "http://x".into(), EndReason::RunTime);
        let thresholds = Thresholds {
            fail_ratio: Some(0.1),
            max_p95: Some(Duration::from_millis(200)),
            max_p99: Some(Duration::from_millis(20)),
            min_rps: Some(100.0),
        };
        let verdicts = thresholds.evaluate(&report.aggregated);
        let judged: Vec<(&str, f64, bool)> = verdicts
            .iter()
            .map(|v| (v.name, v.actual, v.passed))
            .collect();
        assert_eq!(
            judged,
            [
                ("fail-ratio", 322.0 / 1074.0, false),
                ("max-p95", 12.0, true),
                ("max-p99", 21.0, false),
                ("min-rps", 265.79741516954056, true),
            ]
        );
        assert!(!report.with_thresholds(verdicts).passed);
    }
}
