//! The pipeline behind `up`: a list of small steps built from the configuration, run in order
//! with a shared context, each reported with ✓/✗ and its duration. The first failure stops the
//! run; what the failed run started is either rolled back by helm or removed by `down`.

pub mod context;
pub mod reporter;
pub mod state;
pub mod steps;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use context::Context;
pub use reporter::Reporter;

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<String>> + 'a>>;

/// One thing `up` does. `run` returns a short detail for the report ("pushed 127.0.0.1:5000/…").
pub trait Step {
    fn title(&self) -> String;
    fn run<'a>(&'a self, context: &'a mut Context, reporter: &'a Reporter) -> StepFuture<'a>;
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub step: String,
    pub passed: bool,
    pub detail: String,
    pub duration_s: f64,
}

/// Runs `steps` in order until one fails. Timing is taken here, not in the steps.
pub async fn run_steps(
    steps: &[Box<dyn Step>],
    context: &mut Context,
    reporter: &Reporter,
) -> (Vec<StepRecord>, Option<anyhow::Error>) {
    let mut records = Vec::with_capacity(steps.len());
    for step in steps {
        let title = step.title();
        reporter.start(&title);
        let started = Instant::now();
        let outcome = step.run(context, reporter).await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(detail) => {
                reporter.finish(&title, true, &detail, elapsed);
                records.push(record(title, true, detail, elapsed));
            }
            Err(error) => {
                let detail = format!("{error:#}");
                reporter.finish(&title, false, &detail, elapsed);
                records.push(record(title, false, detail, elapsed));
                return (records, Some(error));
            }
        }
    }
    (records, None)
}

fn record(step: String, passed: bool, detail: String, elapsed: Duration) -> StepRecord {
    StepRecord {
        step,
        passed,
        detail,
        duration_s: elapsed.as_secs_f64(),
    }
}
