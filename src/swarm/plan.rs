//! A validated description of one swarm: who, how many, how fast, for how long.

use std::time::Duration;

use super::scenario::Scenario;
use super::schedule::OpenSchedule;
use super::target::Target;
use crate::units::WaitRange;

#[derive(Debug, Clone)]
pub enum Model {
    /// Locust's model: each user sends, waits for the answer, waits `wait`, sends again.
    Closed { wait: WaitRange },
    /// A fixed arrival rate over `users` connections, latency counted from each request's
    /// intended start so that a slow service cannot hide its queue (coordinated omission).
    Open(OpenSchedule),
}

#[derive(Debug, Clone)]
pub struct SwarmPlan {
    pub target: Target,
    pub scenario: Scenario,
    pub users: u64,
    /// Users started per second (closed model).
    pub spawn_rate: f64,
    pub model: Model,
    pub run_time: Option<Duration>,
    /// Total task iterations over all users.
    pub iterations: Option<u64>,
    /// How long stopping users may finish their request in flight; zero stops them at once.
    pub stop_timeout: Duration,
    pub request_timeout: Duration,
    /// Worker threads, each with its own single-threaded runtime.
    pub threads: usize,
}

impl SwarmPlan {
    pub fn is_open_model(&self) -> bool {
        matches!(self.model, Model::Open(_))
    }

    /// Threads that get at least one user.
    pub fn active_threads(&self) -> usize {
        self.threads.min(self.users as usize).max(1)
    }
}
