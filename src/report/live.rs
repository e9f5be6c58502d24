//! What a person sees while a swarm runs: a spinner line on a terminal, or a plain line every
//! few seconds when stderr is not one. Never writes to stdout, which belongs to the report.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::swarm::Collector;
use crate::swarm::stats::quantile_ms;

/// Plain-line mode prints at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub enum LiveView {
    Spinner(ProgressBar),
    Plain { last: Option<Instant> },
    Quiet,
}

impl LiveView {
    pub fn new(quiet: bool) -> LiveView {
        if quiet {
            LiveView::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.green} [{elapsed_precise}] {msg}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            LiveView::Spinner(bar)
        } else {
            LiveView::Plain { last: None }
        }
    }

    pub fn update(&mut self, line: &LiveLine) {
        match self {
            LiveView::Quiet => {}
            LiveView::Spinner(bar) => bar.set_message(line.to_string()),
            LiveView::Plain { last } => {
                if last.is_none_or(|at| at.elapsed() >= PLAIN_EVERY) {
                    *last = Some(Instant::now());
                    eprintln!("[{:>6.1}s] {line}", line.elapsed.as_secs_f64());
                }
            }
        }
    }

    pub fn finish(&self) {
        if let LiveView::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// The figures the live view shows, from whichever engine runs.
#[derive(Debug, Clone, Default)]
pub struct LiveLine {
    pub elapsed: Duration,
    pub users: u64,
    pub target_users: u64,
    pub requests_per_s: f64,
    pub requests: u64,
    pub failures: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl LiveLine {
    pub fn from_collector(collector: &Collector, target_users: u64) -> LiveLine {
        let total = collector.aggregated();
        let window = collector.window_latency();
        LiveLine {
            elapsed: collector.started.elapsed(),
            users: collector.users(),
            target_users,
            requests_per_s: collector.current_rates(None).0,
            requests: total.requests,
            failures: total.failures,
            p50_ms: quantile_ms(&window, 0.5),
            p95_ms: quantile_ms(&window, 0.95),
        }
    }
}

impl std::fmt::Display for LiveLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 * 100.0 / self.requests as f64
        };
        write!(
            f,
            "users {}/{} | {:.0} req/s | {} requests, {} failures ({share:.2}%) | p50 {:.1} ms, p95 {:.1} ms",
            self.users,
            self.target_users,
            self.requests_per_s,
            self.requests,
            self.failures,
            self.p50_ms,
            self.p95_ms
        )
    }
}
