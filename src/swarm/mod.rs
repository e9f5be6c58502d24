//! The native load generator: Locust's users and spawn rate (or a fixed open-model rate) on a
//! few threads, each with its own runtime, recording into per-thread HDR histograms.

pub mod client;
pub mod collector;
pub mod control;
pub mod exporter;
pub mod failure;
pub mod plan;
pub mod scenario;
pub mod schedule;
pub mod stats;
pub mod target;
mod user;
pub mod wire;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

pub use collector::Collector;
pub use control::EndReason;
pub use plan::{Model, SwarmPlan};

use client::RequestTemplate;
use control::Control;
use worker::WorkerMessage;

/// What a finished swarm measured.
pub struct SwarmResult {
    pub plan: Arc<SwarmPlan>,
    pub collector: Collector,
    pub end: EndReason,
    pub elapsed: Duration,
}

/// Runs the swarm until its run time or iterations are used up or `interrupt` turns true.
/// `on_tick` sees the collector once a second (live view, metrics endpoint).
pub async fn run(
    plan: SwarmPlan,
    mut interrupt: watch::Receiver<bool>,
    mut on_tick: impl FnMut(&Collector, &SwarmPlan),
) -> std::io::Result<SwarmResult> {
    let plan = Arc::new(plan);
    let templates: Arc<Vec<RequestTemplate>> = Arc::new(
        plan.scenario
            .tasks
            .iter()
            .map(|task| RequestTemplate::new(&plan.target, task))
            .collect(),
    );
    let control = Arc::new(Control::new(plan.iterations));
    let workers = plan.active_threads();
    let mut collector = Collector::new(
        control.start,
        workers,
        plan.scenario.tasks.len(),
        plan.is_open_model(),
    );
    let (out, mut inbox) = mpsc::unbounded_channel();
    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers {
        match worker::spawn(
            worker,
            plan.clone(),
            control.clone(),
            templates.clone(),
            out.clone(),
        ) {
            Ok(handle) => handles.push(handle),
            Err(error) => {
                control.stop(EndReason::Interrupted);
                return Err(error);
            }
        }
    }
    drop(out);

    let mut finished = 0;
    let mut interrupt_live = true;
    if *interrupt.borrow() {
        control.stop(EndReason::Interrupted);
    }
    // Sampled just after the workers hand over, so each sample sees their latest batch.
    let first_sample = control.start + worker::TICK + Duration::from_millis(50);
    let mut tick = tokio::time::interval_at(first_sample.into(), worker::TICK);
    let deadline = plan.run_time.map(|run_time| control.start + run_time);
    while finished < workers {
        tokio::select! {
            message = inbox.recv() => match message {
                Some(WorkerMessage::Batch { worker, batch }) => collector.absorb(worker, &batch),
                Some(WorkerMessage::Done) => finished += 1,
                None => break,
            },
            _ = tick.tick() => {
                collector.sample(Instant::now());
                on_tick(&collector, &plan);
            }
            _ = sleep_until_opt(deadline), if deadline.is_some() && !control.is_stopping() => {
                control.stop(EndReason::RunTime);
            }
            changed = interrupt.changed(), if interrupt_live && !control.is_stopping() => {
                match changed {
                    Ok(()) if *interrupt.borrow() => control.stop(EndReason::Interrupted),
                    Ok(()) => {}
                    // Nobody can interrupt any more; stop listening.
                    Err(_) => interrupt_live = false,
                }
            }
        }
    }
    for handle in handles {
        let _ = handle.join();
    }
    let ended = Instant::now();
    collector.sample(ended);
    on_tick(&collector, &plan);
    let end = match control.end() {
        Some((_, reason)) => reason,
        None => EndReason::Iterations,
    };
    let elapsed = match control.end() {
        // Users cut off at a hard stop no longer count: the run lasted until the stop.
        Some((at, _)) if plan.stop_timeout.is_zero() => at.duration_since(control.start),
        _ => ended.duration_since(control.start),
    };
    Ok(SwarmResult {
        plan,
        collector,
        end,
        elapsed,
    })
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
