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

    pub fn update(&mut self, collector: &Collector, target_users: u64) {
        match self {
            LiveView::Quiet => {}
            LiveView::Spinner(bar) => bar.set_message(line(collector, target_users)),
            LiveView::Plain { last } => {
                if last.is_none_or(|at| at.elapsed() >= PLAIN_EVERY) {
                    *last = Some(Instant::now());
                    eprintln!(
                        "[{:>6.1}s] {}",
                        collector.started.elapsed().as_secs_f64(),
                        line(collector, target_users)
                    );
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

fn line(collector: &Collector, target_users: u64) -> String {
    let total = collector.aggregated();
    let (rps, _) = collector.current_rates(None);
    let window = collector.window_latency();
    format!(
        "users {}/{target_users} | {rps:.0} req/s | {} requests, {} failures ({:.2}%) | p50 {:.1} ms, p95 {:.1} ms",
        collector.users(),
        total.requests,
        total.failures,
        if total.requests == 0 {
            0.0
        } else {
            total.failures as f64 * 100.0 / total.requests as f64
        },
        quantile_ms(&window, 0.5),
        quantile_ms(&window, 0.95),
    )
}
