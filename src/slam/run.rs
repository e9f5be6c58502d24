//! Runs the steps of a slam one after another, stops at the first that breaks the objective,
//! then narrows the knee down between the last good and the first bad number of users.

use std::future::Future;

use tokio::sync::watch;

use super::objective::{StepFigures, judge};
use super::report::{Breach, Knee, Objective, SCHEMA_ID, SlamReport, SlamStep};
use crate::report::LoadReport;

/// One step's run: a load report, and whether Ctrl-C cut it short.
pub struct StepRun {
    pub report: LoadReport,
    pub interrupted: bool,
}

/// Runs `steps` (then up to `refine` bisection steps) through `run_step`, which runs one step
/// of the given number of users with whichever engine the caller chose.
pub async fn slam<F, Fut>(
    steps: &[u64],
    refine: u32,
    objective: Objective,
    interrupt: watch::Receiver<bool>,
    mut run_step: F,
    mut on_step: impl FnMut(&SlamStep),
) -> anyhow::Result<SlamReport>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = anyhow::Result<StepRun>>,
{
    let mut done: Vec<SlamStep> = Vec::new();
    let mut knee: Option<usize> = None;
    let mut broke: Option<usize> = None;
    let mut interrupted = false;
    let mut planned: Vec<u64> = steps.to_vec();
    planned.reverse();
    let mut refinements = 0;
    while let Some(users) = planned.pop() {
        if *interrupt.borrow() {
            interrupted = true;
            break;
        }
        let run = run_step(users).await?;
        let step = judged(run.report, &done, knee, &objective);
        let met = step.met;
        on_step(&step);
        done.push(step);
        let index = done.len() - 1;
        if run.interrupted {
            interrupted = true;
            break;
        }
        if met {
            if knee.is_none_or(|k| done[k].users < users) {
                knee = Some(index);
            }
        } else if broke.is_none_or(|b| done[b].users > users) {
            broke = Some(index);
        }
        // Past the first break, only bisection steps remain.
        if broke.is_some() {
            planned.clear();
            let low = knee.map(|k| done[k].users).unwrap_or(0);
            let high = broke.map(|b| done[b].users).unwrap_or(0);
            let middle = low + (high - low) / 2;
            if refinements < refine && knee.is_some() && middle > low && middle < high {
                refinements += 1;
                planned.push(middle);
            }
        }
    }
    let engine = done.first().map(|s| s.report.engine).unwrap_or("native");
    let target = done
        .first()
        .map(|s| s.report.target.clone())
        .unwrap_or_default();
    Ok(SlamReport {
        schema: SCHEMA_ID,
        engine,
        target,
        knee: knee.map(|k| Knee {
            step: k,
            users: done[k].users,
            rps: done[k].rps,
            p95_ms: done[k].p95_ms,
        }),
        broke: broke.map(|b| Breach {
            step: b,
            users: done[b].users,
            reasons: done[b].reasons.clone(),
        }),
        objective,
        steps: done,
        interrupted,
    })
}

fn figures(step: &SlamStep) -> StepFigures {
    StepFigures {
        users: step.users,
        rps: step.rps,
        p95_ms: step.p95_ms,
        fail_ratio: step.fail_ratio,
    }
}

/// Judges a step's report against the first step and the current knee (the best step below it).
fn judged(
    report: LoadReport,
    done: &[SlamStep],
    knee: Option<usize>,
    objective: &Objective,
) -> SlamStep {
    let total = &report.aggregated;
    let users = match &report.model {
        crate::report::load::ModelSummary::Closed { users, .. } => *users,
        crate::report::load::ModelSummary::Open { connections, .. } => *connections,
    };
    let mut step = SlamStep {
        users,
        duration_s: report.duration_s,
        requests: total.requests,
        failures: total.failures,
        rps: total.requests_per_s,
        fail_ratio: total.fail_ratio(),
        p50_ms: total.percentile("50"),
        p95_ms: total.percentile("95"),
        p99_ms: total.percentile("99"),
        met: true,
        reasons: Vec::new(),
        report,
    };
    let current = figures(&step);
    let first = done.first().map(figures).unwrap_or(current);
    let previous = knee.map(|k| figures(&done[k]));
    step.reasons = judge(objective, &first, previous.as_ref(), &current);
    step.met = step.reasons.is_empty();
    step
}
