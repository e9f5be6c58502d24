//! The coordinator: creates the worker Job, watches its pods start, follows their logs for the
//! snapshots they print, merges them (live and at the end), and removes everything again — on
//! success, on failure and on Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{
    DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use tokio::sync::{mpsc, watch};

use super::fault::{PodFault, fault};
use super::job::WorkerJob;
use super::merge::Merger;
use crate::kube::{Cluster, pod_problem};
use crate::report::live::{LiveLine, LiveView};
use crate::swarm::wire::WireBatch;
use crate::swarm::{EndReason, SwarmPlan, SwarmResult};

/// Longest wait for the pods to be deleted at the end before thidctl stops waiting (the
/// deletion itself goes on in the cluster).
const REMOVAL_WAIT: Duration = Duration::from_secs(60);

/// Longest wait, once the workers have ended, for their final snapshots to reach their logs.
const SETTLE_WAIT: Duration = Duration::from_secs(15);

/// How long stopped workers get to print their last snapshot after a Ctrl-C.
const STOP_WAIT: Duration = Duration::from_secs(40);

/// What a finished in-cluster run measured, and what happened to its workers.
pub struct InClusterResult {
    pub swarm: SwarmResult,
    /// One line per worker that did not finish normally.
    pub worker_problems: Vec<String>,
}

/// Runs `job` to the end. `plan` is the whole swarm's plan (the workers each ran a share).
pub async fn run(
    cluster: &Cluster,
    job: WorkerJob,
    plan: SwarmPlan,
    startup_timeout: Duration,
    interrupt: watch::Receiver<bool>,
    live: &mut LiveView,
) -> anyhow::Result<InClusterResult> {
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &job.namespace);
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), &job.namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &job.namespace);
    if let Some(map) = job.config_map() {
        maps.create(&PostParams::default(), &map)
            .await
            .with_context(|| create_error("the scenario ConfigMap", &job))?;
    }
    let created = jobs
        .create(&PostParams::default(), &job.job())
        .await
        .with_context(|| create_error("the worker Job", &job));
    let outcome = match created {
        Ok(_) => {
            let mut coordinator = Coordinator::new(&pods, &jobs, &job, &plan, startup_timeout);
            coordinator.run(interrupt, live).await
        }
        Err(error) => Err(error),
    };
    live.finish();
    let removed = remove(&jobs, &maps, &pods, &job).await;
    let (merger, end, problems) = outcome?;
    removed?;
    let Some((collector, elapsed)) = merger.finish() else {
        if end == EndReason::Interrupted {
            bail!("interrupted before any worker reported: nothing was measured");
        }
        bail!(
            "no worker reported any numbers: {}",
            if problems.is_empty() {
                "their logs held no snapshot".to_string()
            } else {
                problems.join("; ")
            }
        );
    };
    Ok(InClusterResult {
        swarm: SwarmResult {
            plan: Arc::new(plan),
            collector,
            end,
            elapsed,
        },
        worker_problems: problems,
    })
}

fn create_error(what: &str, job: &WorkerJob) -> String {
    format!(
        "cannot create {what} {} in namespace {} (does the namespace exist, and may you create Jobs there?)",
        job.name, job.namespace
    )
}

/// Deletes the Job (its pods with it, in the foreground) and the ConfigMap, and waits until
/// the pods are gone.
async fn remove(
    jobs: &Api<Job>,
    maps: &Api<ConfigMap>,
    pods: &Api<Pod>,
    job: &WorkerJob,
) -> anyhow::Result<()> {
    let foreground = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    let deleted = jobs.delete(&job.name, &foreground).await;
    if job.scenario.is_some() {
        let _ = maps.delete(&job.name, &DeleteParams::default()).await;
    }
    match deleted {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => {
            return Err(anyhow::Error::new(error).context(format!(
                "cannot delete Job {}; remove it with `kubectl delete job {} -n {}`",
                job.name, job.name, job.namespace
            )));
        }
    }
    let listing = ListParams::default().labels(&job.selector());
    let deadline = Instant::now() + REMOVAL_WAIT;
    while Instant::now() < deadline {
        match pods.list(&listing).await {
            Ok(list) if list.items.is_empty() => return Ok(()),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    bail!(
        "worker pods of {} are still being deleted after {}s; `kubectl get pods -n {} -l {}` shows them",
        job.name,
        REMOVAL_WAIT.as_secs(),
        job.namespace,
        job.selector()
    )
}

/// A line of a worker's log, or the end of a followed log (the container ended, or the stream
/// broke and the pod is followed again if it still runs).
enum LogEvent {
    Line(usize, String),
    Ended(String),
}

struct Coordinator<'a> {
    pods: &'a Api<Pod>,
    jobs: &'a Api<Job>,
    job: &'a WorkerJob,
    target_users: u64,
    startup_timeout: Duration,
    merger: Merger,
    /// Pods whose log is being followed, by name.
    followed: BTreeSet<String>,
    /// Worker index → why its pod failed (`None`: it succeeded), once terminated.
    finished: BTreeMap<usize, Option<String>>,
    /// Worker index → the pod's name, once seen.
    names: BTreeMap<usize, String>,
}

type Outcome = (Merger, EndReason, Vec<String>);

impl<'a> Coordinator<'a> {
    fn new(
        pods: &'a Api<Pod>,
        jobs: &'a Api<Job>,
        job: &'a WorkerJob,
        plan: &SwarmPlan,
        startup_timeout: Duration,
    ) -> Coordinator<'a> {
        Coordinator {
            pods,
            jobs,
            job,
            target_users: plan.users,
            startup_timeout,
            merger: Merger::new(
                job.workers as usize,
                plan.scenario.tasks.len(),
                plan.is_open_model(),
            ),
            followed: BTreeSet::new(),
            finished: BTreeMap::new(),
            names: BTreeMap::new(),
        }
    }

    async fn run(
        &mut self,
        mut interrupt: watch::Receiver<bool>,
        live: &mut LiveView,
    ) -> anyhow::Result<Outcome> {
        let (sender, mut lines) = mpsc::unbounded_channel();
        let created = Instant::now();
        let mut all_running_at: Option<Instant> = None;
        let mut stopping_since: Option<Instant> = None;
        let mut last_status = String::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(event) = lines.recv() => {
                    self.take(event);
                    continue;
                }
                changed = interrupt.changed(), if stopping_since.is_none() => {
                    if changed.is_err() || *interrupt.borrow() {
                        eprintln!("Stopping the worker pods; their last numbers follow…");
                        self.stop_workers().await;
                        stopping_since = Some(Instant::now());
                    }
                    continue;
                }
                _ = tick.tick() => {}
            }
            self.merger.sample(Instant::now());
            if let Some(collector) = self.merger.collector() {
                live.update(&LiveLine::from_collector(collector, self.target_users));
            }
            let listing = ListParams::default().labels(&self.job.selector());
            let list = match self.pods.list(&listing).await {
                Ok(list) => list.items,
                Err(error) => {
                    // The API server may blink under load; the workers run on regardless.
                    eprintln!("cannot list the worker pods ({error}); retrying");
                    continue;
                }
            };
            let mut running = 0;
            let mut waiting = Vec::new();
            for pod in &list {
                let Some(index) = worker_index(pod) else {
                    continue;
                };
                let name = pod.metadata.name.clone().unwrap_or_default();
                // One pod per share: a replacement (an older cluster retrying the index) would
                // run the share a second time, so it is neither followed nor counted.
                if self.names.entry(index).or_insert_with(|| name.clone()) != &name {
                    continue;
                }
                if let Some(problem) = fault(pod) {
                    match problem {
                        PodFault::Fatal(why) => bail!("{}", self.fatal(&name, &why)),
                        PodFault::Waiting(why) => waiting.push(format!("{name}: {why}")),
                    }
                }
                let phase = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .unwrap_or("Pending");
                match phase {
                    "Running" => running += 1,
                    "Succeeded" => {
                        self.finished.entry(index).or_insert(None);
                    }
                    "Failed" => {
                        self.finished
                            .entry(index)
                            .or_insert_with(|| Some(failure_of(pod)));
                    }
                    _ => {}
                }
                if phase == "Running" && self.followed.insert(name.clone()) {
                    follow(self.pods.clone(), name, index, sender.clone());
                }
            }
            // A pod deleted from under the run (evicted, `kubectl delete`) is finished too.
            for (index, name) in &self.names {
                let listed = list
                    .iter()
                    .any(|pod| pod.metadata.name.as_deref() == Some(name.as_str()));
                if !listed {
                    self.finished
                        .entry(*index)
                        .or_insert_with(|| Some("its pod was deleted".to_string()));
                }
            }
            let status = format!(
                "worker pods: {running}/{} running, {} finished",
                self.job.workers,
                self.finished.len()
            );
            if status != last_status && self.merger.collector().is_none() {
                eprintln!("{status}");
                last_status = status;
            }
            if all_running_at.is_none() && running + self.finished.len() as u64 >= self.job.workers
            {
                all_running_at = Some(Instant::now());
            }
            if all_running_at.is_none()
                && stopping_since.is_none()
                && created.elapsed() > self.startup_timeout
            {
                bail!(
                    "the worker pods did not all start within {}s: {}",
                    self.startup_timeout.as_secs(),
                    if waiting.is_empty() {
                        "they are still pending".to_string()
                    } else {
                        waiting.join("; ")
                    }
                );
            }
            if self.finished.len() as u64 >= self.job.workers {
                break;
            }
            if let Some(since) = stopping_since
                && (list.is_empty() || since.elapsed() > STOP_WAIT)
            {
                break;
            }
        }
        self.collect_final_snapshots(&mut lines).await;
        let problems = self.worker_problems();
        let end = if stopping_since.is_some() {
            EndReason::Interrupted
        } else {
            EndReason::RunTime
        };
        let merger = std::mem::replace(&mut self.merger, Merger::new(0, 0, false));
        Ok((merger, end, problems))
    }

    /// The final snapshots can trail the pods' ends: a container's last output reaches its
    /// log a moment after the kubelet reports it finished. So, bounded: take what the followed
    /// logs still deliver until they close, and re-read the full log of every worker whose pod
    /// succeeded but whose final snapshot has not come (a stream may have broken, a short
    /// worker may never have been followed). A snapshot offered twice counts once.
    async fn collect_final_snapshots(&mut self, lines: &mut mpsc::UnboundedReceiver<LogEvent>) {
        let deadline = Instant::now() + SETTLE_WAIT;
        loop {
            while let Ok(event) = lines.try_recv() {
                self.take(event);
            }
            let missing: Vec<(usize, String)> = self
                .names
                .iter()
                .filter(|(index, _)| !self.merger.done(**index))
                .map(|(index, name)| (*index, name.clone()))
                .collect();
            for (index, name) in &missing {
                if let Ok(log) = self.pods.logs(name, &LogParams::default()).await
                    && let Some(last) = WireBatch::last_in(&log)
                {
                    self.merger.offer(*index, &last);
                }
            }
            let succeeded_without_final = self
                .names
                .keys()
                .any(|index| !self.merger.done(*index) && self.finished.get(index) == Some(&None));
            if (self.followed.is_empty() && !succeeded_without_final) || Instant::now() >= deadline
            {
                return;
            }
            if let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_millis(500), lines.recv()).await
            {
                self.take(event);
            }
        }
    }

    fn take(&mut self, event: LogEvent) {
        match event {
            LogEvent::Line(index, line) => {
                if let Some(snapshot) = WireBatch::last_in(&line) {
                    self.merger.offer(index, &snapshot);
                }
            }
            LogEvent::Ended(name) => {
                self.followed.remove(&name);
            }
        }
    }

    /// Suspends the Job: Kubernetes deletes its pods gracefully and starts no others. Each
    /// worker gets SIGTERM, stops its users and prints its final snapshot, which the followed
    /// logs still deliver.
    async fn stop_workers(&self) {
        let suspend = serde_json::json!({"spec": {"suspend": true}});
        let _ = self
            .jobs
            .patch(
                &self.job.name,
                &PatchParams::default(),
                &Patch::Merge(&suspend),
            )
            .await;
    }

    fn fatal(&self, pod: &str, why: &str) -> String {
        format!("worker pod {pod} cannot run: {why}")
    }

    fn worker_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for index in 0..self.job.workers as usize {
            let name = self
                .names
                .get(&index)
                .cloned()
                .unwrap_or_else(|| format!("worker {index}"));
            // A pod that failed stopped early even if it printed a final snapshot (SIGTERM).
            let failed = self.finished.get(&index).cloned().flatten();
            if !self.merger.heard_from(index) {
                problems.push(format!(
                    "{name}: sent no numbers{}",
                    failed.map(|why| format!(" ({why})")).unwrap_or_default()
                ));
            } else if failed.is_some() || !self.merger.done(index) {
                problems.push(format!(
                    "{name}: {}; its numbers up to {:.0}s are kept",
                    failed.unwrap_or_else(|| "stopped early".to_string()),
                    self.merger.reached_s(index).unwrap_or(0.0)
                ));
            }
        }
        problems
    }
}

/// Why a worker pod failed: its container's exit, e.g. `exit 137, OOMKilled`.
fn failure_of(pod: &Pod) -> String {
    let terminated = pod
        .status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .and_then(|containers| containers.first())
        .and_then(|container| container.state.as_ref())
        .and_then(|state| state.terminated.as_ref());
    match terminated {
        Some(end) => match &end.reason {
            Some(reason) => format!("its pod failed (exit {}, {reason})", end.exit_code),
            None => format!("its pod failed (exit {})", end.exit_code),
        },
        None => pod_problem(pod).unwrap_or_else(|| "its pod failed".to_string()),
    }
}

/// The Job's completion index of a worker pod.
fn worker_index(pod: &Pod) -> Option<usize> {
    pod.metadata
        .annotations
        .as_ref()?
        .get("batch.kubernetes.io/job-completion-index")?
        .parse()
        .ok()
}

/// Follows a pod's log, sending each line; the log ends when the container does.
fn follow(pods: Api<Pod>, name: String, index: usize, sender: mpsc::UnboundedSender<LogEvent>) {
    tokio::spawn(async move {
        let params = LogParams {
            follow: true,
            ..LogParams::default()
        };
        if let Ok(stream) = pods.log_stream(&name, &params).await {
            let mut lines = stream.lines();
            while let Some(Ok(line)) = lines.next().await {
                if sender.send(LogEvent::Line(index, line)).is_err() {
                    return;
                }
            }
        } else {
            // Not ready to stream yet: try again on a later tick rather than at once.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let _ = sender.send(LogEvent::Ended(name));
    });
}
