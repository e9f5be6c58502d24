//! One simulated user: pick a task by weight, send it, record the outcome, wait, repeat.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::client::{Connection, RequestTemplate};
use super::control::Control;
use super::failure::FailureCause;
use super::plan::{Model, SwarmPlan};
use super::schedule::{Dice, OpenSchedule};
use super::stats::StatsBatch;

/// A request counts as late in the open model when it leaves this long after its slot.
const LATE_AFTER: Duration = Duration::from_millis(1);

/// What the users of one worker thread share.
pub struct ThreadShared {
    pub plan: Arc<SwarmPlan>,
    pub control: Arc<Control>,
    pub templates: Arc<Vec<RequestTemplate>>,
    pub stats: RefCell<StatsBatch>,
    pub alive: Cell<u64>,
}

/// Keeps the live-user count and the open model's missed-slot count right even when the
/// user's task is aborted at a hard stop.
struct Presence {
    shared: Rc<ThreadShared>,
    /// Open model: (connection index, requests sent so far).
    open: Option<(OpenSchedule, u64, Cell<u64>)>,
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.shared.alive.set(self.shared.alive.get() - 1);
        if let (Some((schedule, connection, sent)), Some(stopped_after)) =
            (&self.open, self.shared.control.stopped_after())
            && !self.shared.control.iterations_spent()
        {
            let due = schedule.due_by(*connection, stopped_after);
            self.shared.stats.borrow_mut().not_started += due.saturating_sub(sent.get());
        }
    }
}

pub async fn run_user(id: u64, shared: Rc<ThreadShared>, mut stop: watch::Receiver<bool>) {
    shared.alive.set(shared.alive.get() + 1);
    let open = match shared.plan.model {
        Model::Open(schedule) => Some((schedule, id, Cell::new(0))),
        Model::Closed { .. } => None,
    };
    let presence = Presence {
        shared: shared.clone(),
        open,
    };
    let plan = &shared.plan;
    let mut dice = Dice::new(id.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ plan.users);
    let mut connection: Option<Connection> = None;
    let mut sequence = 0u64;
    loop {
        if shared.control.is_stopping() {
            break;
        }
        let intended = match &presence.open {
            Some((schedule, connection_index, _)) => {
                let due =
                    shared.control.start + schedule.intended_start(*connection_index, sequence);
                if due > Instant::now()
                    && interrupted(tokio::time::sleep_until(due.into()), &mut stop).await
                {
                    break;
                }
                Some(due)
            }
            None => None,
        };
        if !shared.control.take_iteration() {
            break;
        }
        let task = plan.scenario.pick(dice.roll());
        let sent = Instant::now();
        if let Some((_, _, count)) = &presence.open {
            count.set(count.get() + 1);
        }
        let outcome = exchange(&mut connection, &shared, task).await;
        let done = Instant::now();
        let latency = done - intended.unwrap_or(sent);
        let service_time = intended.map(|_| done - sent);
        {
            let mut stats = shared.stats.borrow_mut();
            if let Some(due) = intended {
                stats.late_starts += u64::from(sent.saturating_duration_since(due) > LATE_AFTER);
            }
            match outcome {
                Ok(bytes) => stats.requests[task].record(latency, service_time, bytes, true),
                Err((cause, bytes)) => {
                    stats.requests[task].record(latency, service_time, bytes, false);
                    stats.record_failure(task, cause);
                }
            }
        }
        sequence += 1;
        if let Model::Closed { wait } = plan.model
            && !wait.is_zero()
            && interrupted(
                tokio::time::sleep(dice.between(wait.min, wait.max)),
                &mut stop,
            )
            .await
        {
            break;
        }
    }
    drop(presence);
}

/// Sends task `task` on the user's connection, opening one first when needed. A failed
/// exchange drops the connection so that the next task starts on a fresh one.
async fn exchange(
    connection: &mut Option<Connection>,
    shared: &ThreadShared,
    task: usize,
) -> Result<u64, (FailureCause, u64)> {
    let plan = &shared.plan;
    if let Some(open) = connection.as_mut()
        && !open.is_reusable()
    {
        *connection = None;
    }
    if connection.is_none() {
        let opened =
            tokio::time::timeout(plan.request_timeout, Connection::open(&plan.target)).await;
        match opened {
            Ok(Ok(fresh)) => *connection = Some(fresh),
            Ok(Err(cause)) => return Err((cause, 0)),
            Err(_) => return Err((FailureCause::Timeout, 0)),
        }
    }
    let open = connection.as_mut().expect("opened above");
    let sent = open
        .send(&shared.templates[task], plan.request_timeout)
        .await;
    if sent.is_err() || !open.is_open() {
        // Failed, or the response ended the connection: close the socket now, not after
        // the wait.
        *connection = None;
    }
    match sent {
        Ok(response) if plan.scenario.tasks[task].expect.accepts(response.status) => {
            Ok(response.body_bytes)
        }
        Ok(response) => Err((
            FailureCause::Status(response.status.as_u16()),
            response.body_bytes,
        )),
        Err(cause) => Err((cause, 0)),
    }
}

/// Waits for `wait` unless the swarm stops first; true when it stopped.
async fn interrupted(
    wait: impl std::future::Future<Output = ()>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = wait => false,
        _ = stop.changed() => true,
    }
}
