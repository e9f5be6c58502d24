//! A worker thread: its own single-threaded runtime, the users assigned to it, and a hand-over
//! of its statistics to the collector once a tick. Nothing on the request path is shared with
//! other threads except the stop flag and the iteration budget.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use super::client::RequestTemplate;
use super::control::Control;
use super::plan::{Model, SwarmPlan};
use super::schedule::{thread_of_user, user_start};
use super::stats::StatsBatch;
use super::user::{ThreadShared, run_user};

/// How often a worker hands its numbers over.
pub const TICK: Duration = Duration::from_secs(1);

pub enum WorkerMessage {
    Batch { worker: usize, batch: StatsBatch },
    Done,
}

pub fn spawn(
    worker: usize,
    plan: Arc<SwarmPlan>,
    control: Arc<Control>,
    templates: Arc<Vec<RequestTemplate>>,
    out: UnboundedSender<WorkerMessage>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("swarm-{worker}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a single-threaded runtime starts");
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, run(worker, plan, control, templates, out.clone()));
            let _ = out.send(WorkerMessage::Done);
        })
}

async fn run(
    worker: usize,
    plan: Arc<SwarmPlan>,
    control: Arc<Control>,
    templates: Arc<Vec<RequestTemplate>>,
    out: UnboundedSender<WorkerMessage>,
) {
    let open_model = plan.is_open_model();
    let request_count = plan.scenario.tasks.len();
    let threads = plan.active_threads();
    let shared = Rc::new(ThreadShared {
        plan: plan.clone(),
        control: control.clone(),
        templates,
        stats: RefCell::new(StatsBatch::new(request_count, open_model)),
        alive: Cell::new(0),
    });
    let hand_over = |shared: &ThreadShared| {
        let mut batch = shared
            .stats
            .replace(StatsBatch::new(request_count, open_model));
        batch.users = shared.alive.get();
        let _ = out.send(WorkerMessage::Batch { worker, batch });
    };

    let mut pending = (0..plan.users)
        .filter(|&user| thread_of_user(user, threads) == worker)
        .peekable();
    let mut users = JoinSet::new();
    let mut stop = control.stop_receiver();
    let mut tick = tokio::time::interval(TICK);
    tick.tick().await;
    while !control.is_stopping() {
        let next_start = pending.peek().map(|&user| match plan.model {
            Model::Open(_) => control.start,
            Model::Closed { .. } => control.start + user_start(user, plan.spawn_rate),
        });
        if next_start.is_none() && users.is_empty() {
            break;
        }
        tokio::select! {
            _ = tick.tick() => hand_over(&shared),
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(next_start.unwrap_or(control.start).into()), if next_start.is_some() => {
                let user = pending.next().expect("peeked above");
                if control.iterations_spent() {
                    pending.by_ref().for_each(drop);
                } else {
                    users.spawn_local(run_user(user, shared.clone(), control.stop_receiver()));
                }
            }
            Some(_) = users.join_next(), if !users.is_empty() => {}
        }
    }

    // Stopping: users finish the request in flight within the stop timeout, then are cut off.
    let grace = tokio::time::sleep(plan.stop_timeout);
    tokio::pin!(grace);
    while !users.is_empty() {
        tokio::select! {
            _ = &mut grace => break,
            _ = tick.tick() => hand_over(&shared),
            _ = users.join_next() => {}
        }
    }
    users.abort_all();
    while users.join_next().await.is_some() {}
    hand_over(&shared);
}
