//! Pods by label: the ready one to talk to, and a summary of all of them for `status`.

use std::time::Duration;

use ::kube::Api;
use ::kube::api::ListParams;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::why::pod_problem;
use super::{Cluster, KubeError};

/// One pod as `kubectl get pods` shows it, plus why it is not ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodSummary {
    pub name: String,
    /// `Running`, `Pending`, … (`Terminating` while being deleted, as kubectl shows it).
    pub phase: String,
    pub ready_containers: u32,
    pub containers: u32,
    /// Restarts summed over the pod's containers.
    pub restarts: u32,
    /// Since creation; `None` if the server sent no timestamp. Whole seconds in JSON.
    #[serde(rename = "age_seconds", serialize_with = "as_seconds")]
    pub age: Option<Duration>,
    /// `None` when ready; otherwise the one-line reason.
    pub problem: Option<String>,
}

impl PodSummary {
    /// `1/1`, as in kubectl's READY column.
    pub fn ready(&self) -> String {
        format!("{}/{}", self.ready_containers, self.containers)
    }

    /// Running with every container ready: a pod [`ready_pod`] would pick.
    pub fn is_ready(&self) -> bool {
        self.problem.is_none()
    }

    /// `1/1 ready, 3 restarts, 5m` — kubectl's columns in one phrase, then the problem if any.
    pub fn describe(&self) -> String {
        let restarts = match self.restarts {
            1 => "1 restart".to_string(),
            n => format!("{n} restarts"),
        };
        let age = self
            .age
            .map(short_age)
            .unwrap_or_else(|| "age unknown".into());
        let line = format!(
            "{}/{} ready, {restarts}, {age}",
            self.ready_containers, self.containers
        );
        match &self.problem {
            Some(problem) => format!("{line}: {problem}"),
            None => line,
        }
    }
}

/// kubectl's AGE style: `45s`, `12m`, `3h`, `2d`.
fn short_age(age: Duration) -> String {
    match age.as_secs() {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn as_seconds<S: serde::Serializer>(
    age: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match age {
        Some(age) => serializer.serialize_some(&age.as_secs()),
        None => serializer.serialize_none(),
    }
}

/// A Running pod with all containers ready matching the label selector (the runbook's
/// `kubectl get pods -l …`), newest first.
pub async fn ready_pod(
    cluster: &Cluster,
    namespace: &str,
    selector: &str,
) -> Result<String, KubeError> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    ready_pod_in(&api, namespace, selector).await
}

/// Pods matching a selector with phase, ready x/y, restarts and age, sorted by name.
pub async fn pod_summaries(
    cluster: &Cluster,
    namespace: &str,
    selector: &str,
) -> Result<Vec<PodSummary>, KubeError> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let now = Timestamp::now();
    let mut summaries: Vec<PodSummary> = list_pods(&api, namespace, selector)
        .await?
        .iter()
        .map(|pod| summarize(pod, now))
        .collect();
    summaries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(summaries)
}

/// "pod: why it is not serving" for each pod matching `selector` that is not; empty when every
/// one serves (or there are none yet).
pub async fn pod_problems(
    cluster: &Cluster,
    namespace: &str,
    selector: &str,
) -> Result<Vec<String>, KubeError> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let pods = list_pods(&api, namespace, selector).await?;
    Ok(pods
        .iter()
        .filter_map(|pod| {
            let why = pod_problem(pod)?;
            Some(format!(
                "{}: {why}",
                pod.metadata.name.as_deref().unwrap_or("?")
            ))
        })
        .collect())
}

pub(crate) async fn ready_pod_in(
    api: &Api<Pod>,
    namespace: &str,
    selector: &str,
) -> Result<String, KubeError> {
    let pods = list_pods(api, namespace, selector).await?;
    pick_ready(&pods).ok_or_else(|| KubeError::NoReadyPod {
        namespace: namespace.to_string(),
        selector: selector.to_string(),
        seen: describe_unready(&pods),
    })
}

pub(crate) async fn list_pods(
    api: &Api<Pod>,
    namespace: &str,
    selector: &str,
) -> Result<Vec<Pod>, KubeError> {
    let params = ListParams::default().labels(selector);
    match api.list(&params).await {
        Ok(list) => Ok(list.items),
        Err(source) => Err(KubeError::Api {
            action: format!("list pods -l {selector} in namespace {namespace}"),
            source,
        }),
    }
}

/// Running, not being deleted, every container ready and the Ready condition (which also covers
/// readiness gates) not False.
pub(crate) fn is_pod_ready(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    let containers = status.container_statuses.as_deref().unwrap_or_default();
    pod.metadata.deletion_timestamp.is_none()
        && status.phase.as_deref() == Some("Running")
        && !containers.is_empty()
        && containers.iter().all(|c| c.ready)
        && status
            .conditions
            .iter()
            .flatten()
            .filter(|c| c.type_ == "Ready")
            .all(|c| c.status == "True")
}

/// The newest ready pod: after a rollout the old ones may still be terminating or about to be.
fn pick_ready(pods: &[Pod]) -> Option<String> {
    pods.iter()
        .filter(|p| is_pod_ready(p))
        .max_by(|a, b| {
            let created = |p: &Pod| p.metadata.creation_timestamp.clone();
            created(a)
                .cmp(&created(b))
                .then_with(|| b.metadata.name.cmp(&a.metadata.name))
        })
        .and_then(|p| p.metadata.name.clone())
}

fn describe_unready(pods: &[Pod]) -> String {
    if pods.is_empty() {
        return "no pods at all: is it installed in this namespace? check `kubectl get pods -A -l …`".into();
    }
    pods.iter()
        .map(|p| {
            let name = p.metadata.name.as_deref().unwrap_or("?");
            let why = pod_problem(p).unwrap_or_else(|| "ready".into());
            format!("{name}: {why}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn summarize(pod: &Pod, now: Timestamp) -> PodSummary {
    let status = pod.status.clone().unwrap_or_default();
    let containers = status.container_statuses.unwrap_or_default();
    let phase = if pod.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        status.phase.unwrap_or_else(|| "Unknown".into())
    };
    let age = pod.metadata.creation_timestamp.as_ref().map(|created| {
        let seconds = now.as_second().saturating_sub(created.0.as_second()).max(0);
        Duration::from_secs(seconds.unsigned_abs())
    });
    PodSummary {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase,
        ready_containers: containers.iter().filter(|c| c.ready).count() as u32,
        containers: containers.len() as u32,
        restarts: containers
            .iter()
            .map(|c| c.restart_count.max(0) as u32)
            .sum(),
        age,
        problem: pod_problem(pod),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, created: &str, ready: bool, restarts: i32) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [
                    {"name": "a", "image": "i", "imageID": "", "ready": ready, "restartCount": restarts,
                     "state": {"running": {}}},
                    {"name": "b", "image": "i", "imageID": "", "ready": true, "restartCount": 1,
                     "state": {"running": {}}}
                ]
            }
        }))
        .unwrap()
    }

    #[test]
    fn newest_ready_pod_wins() {
        let pods = [
            pod("old", "2026-01-01T00:00:00Z", true, 0),
            pod("newer", "2026-01-01T00:05:00Z", true, 0),
            pod("newest-unready", "2026-01-01T00:09:00Z", false, 0),
        ];
        assert_eq!(pick_ready(&pods).as_deref(), Some("newer"));
    }

    #[test]
    fn terminating_pod_is_not_ready() {
        let mut p = pod("going", "2026-01-01T00:00:00Z", true, 0);
        p.metadata.deletion_timestamp = p.metadata.creation_timestamp.clone();
        assert!(!is_pod_ready(&p));
        assert_eq!(pick_ready(&[p]), None);
    }

    #[test]
    fn no_ready_pod_lists_reasons() {
        let seen = describe_unready(&[pod("p1", "2026-01-01T00:00:00Z", false, 0)]);
        assert_eq!(
            seen,
            "p1: container a running but not ready (readiness probe not passing)"
        );
        assert!(describe_unready(&[]).starts_with("no pods at all"));
    }

    #[test]
    fn summary_counts_like_kubectl() {
        let now: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let s = summarize(&pod("p", "2026-01-01T00:00:00Z", false, 2), now);
        assert!(!s.is_ready());
        assert_eq!(s.ready(), "1/2");
        assert_eq!(s.restarts, 3);
        assert_eq!(s.phase, "Running");
        assert_eq!(s.age, Some(Duration::from_secs(3600)));
        assert_eq!(
            s.describe(),
            "1/2 ready, 3 restarts, 60m: container a running but not ready (readiness probe not passing), restarted 2 times"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["age_seconds"], 3600);
        assert_eq!(json["ready_containers"], 1);
    }

    #[test]
    fn ages_read_like_kubectl() {
        let age = |s| short_age(Duration::from_secs(s));
        assert_eq!(
            [age(45), age(600), age(3 * 3600), age(3 * 86400)],
            ["45s", "10m", "3h", "3d"]
        );
    }
}
