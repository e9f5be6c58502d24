//! Waiting for deployments to finish rolling out, and saying why they did not.

use std::time::Duration;

use ::kube::Api;
use ::kube::api::ListParams;
use ::kube::runtime::wait::{Condition, await_condition, conditions};
use futures_util::future::try_join_all;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use super::error::Unready;
use super::pods::{is_pod_ready, list_pods};
use super::selector::label_selector_string;
use super::why::{deployment_problem, pod_problem};
use super::{Cluster, KubeError};

/// Explaining a timeout takes a few list calls; they get their own bound so a sick apiserver
/// cannot turn a timeout into a hang.
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a rollout must stay complete before it counts (see [`settled`]).
const SETTLE: Duration = Duration::from_secs(3);

/// Waits until every Deployment matching `selector` in `namespace` is complete, all under
/// `timeout`, and returns their names. On timeout the error names each unready deployment and why.
pub async fn wait_for_deployments(
    cluster: &Cluster,
    namespace: &str,
    selector: &str,
    timeout: Duration,
) -> Result<Vec<String>, KubeError> {
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), namespace);
    let wait = async {
        let names = list_deployments(&api, namespace, selector)
            .await?
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect::<Vec<_>>();
        if names.is_empty() {
            return Err(KubeError::NoDeployments {
                namespace: namespace.to_string(),
                selector: selector.to_string(),
            });
        }
        try_join_all(
            names
                .iter()
                .map(|name| settled(cluster, &api, namespace, name)),
        )
        .await?;
        Ok(names)
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(result) => result,
        Err(_) => Err(KubeError::RolloutTimeout {
            namespace: namespace.to_string(),
            selector: selector.to_string(),
            after: timeout,
            unready: explain(cluster, &api, namespace, selector).await,
        }),
    }
}

/// Complete, and still complete a moment later with every pod ready. A container that exits
/// right after starting and has no readiness probe counts as ready for about a kubelet sync,
/// long enough for the deployment to report NewReplicaSetAvailable — which it then keeps.
/// Holding for `SETTLE` plays the part of a `minReadySeconds` the chart may not set.
async fn settled(
    cluster: &Cluster,
    api: &Api<Deployment>,
    namespace: &str,
    name: &str,
) -> Result<(), KubeError> {
    let watch_error = |source| KubeError::Watch {
        what: format!("deployment {name} in namespace {namespace}"),
        source,
    };
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    loop {
        let Some(deployment) = await_condition(api.clone(), name, rollout_complete())
            .await
            .map_err(watch_error)?
        else {
            continue;
        };
        let relapse = await_condition(api.clone(), name, rollout_complete().not());
        match tokio::time::timeout(SETTLE, relapse).await {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(watch_error(e)),
            Err(_) => {}
        }
        // The deployment's counts lag the pods by a sync; ask the pods themselves.
        let selector = deployment
            .spec
            .as_ref()
            .map(|s| label_selector_string(&s.selector))
            .unwrap_or_default();
        let current = list_pods(&pods, namespace, &selector).await?;
        if current
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .all(is_pod_ready)
        {
            return Ok(());
        }
    }
}

/// kube-runtime's "completed" (Progressing: NewReplicaSetAvailable) plus kubectl's rollout-status
/// counts: right after `helm upgrade` the old condition still says complete until the controller
/// has observed the new generation, and old pods may still be serving.
fn rollout_complete() -> impl Condition<Deployment> {
    conditions::is_deployment_completed().and(rollout_settled)
}

fn rollout_settled(deployment: Option<&Deployment>) -> bool {
    let Some(d) = deployment else {
        return false;
    };
    let Some(status) = &d.status else {
        return false;
    };
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
        && updated >= desired
        && status.replicas.unwrap_or(0) <= updated
        && status.available_replicas.unwrap_or(0) >= updated
        // Available now, not only at some point: the condition above never goes back.
        && status.available_replicas.unwrap_or(0) >= desired
}

async fn list_deployments(
    api: &Api<Deployment>,
    namespace: &str,
    selector: &str,
) -> Result<Vec<Deployment>, KubeError> {
    api.list(&ListParams::default().labels(selector))
        .await
        .map(|list| list.items)
        .map_err(|source| KubeError::Api {
            action: format!("list deployments -l {selector} in namespace {namespace}"),
            source,
        })
}

/// Each deployment that is still not complete, with the reason read from its pods.
async fn explain(
    cluster: &Cluster,
    api: &Api<Deployment>,
    namespace: &str,
    selector: &str,
) -> Vec<Unready> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let work = async {
        let deployments = match list_deployments(api, namespace, selector).await {
            Ok(d) => d,
            Err(e) => {
                return vec![Unready {
                    name: format!("deployments -l {selector}"),
                    why: format!("could not look: {e}"),
                }];
            }
        };
        let mut unready = Vec::new();
        for d in &deployments {
            let name = d.metadata.name.clone().unwrap_or_default();
            let pod_selector = d
                .spec
                .as_ref()
                .map(|s| label_selector_string(&s.selector))
                .unwrap_or_default();
            let why = match list_pods(&pods, namespace, &pod_selector).await {
                // Complete with every pod ready: this one was not what held the wait up.
                Ok(p)
                    if rollout_complete().matches_object(Some(d))
                        && p.iter().all(|p| pod_problem(p).is_none()) =>
                {
                    continue;
                }
                Ok(p) => deployment_problem(d, &p),
                Err(e) => format!("could not list its pods: {e}"),
            };
            unready.push(Unready { name, why });
        }
        if unready.is_empty() {
            // Everything looks ready right now: it flapped, or finished just as time ran out.
            unready = deployments
                .iter()
                .map(|d| Unready {
                    name: d.metadata.name.clone().unwrap_or_default(),
                    why: format!(
                        "ready only just now, not for {}s in a row: pods may be restarting",
                        SETTLE.as_secs()
                    ),
                })
                .collect();
        }
        unready
    };
    tokio::time::timeout(DIAGNOSE_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| {
            vec![Unready {
                name: format!("deployments -l {selector}"),
                why: "the API server did not answer while looking for the reason".into(),
            }]
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(generation: i64, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "generation": generation},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "a"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}
            },
            "status": status
        }))
        .unwrap()
    }

    fn completed() -> serde_json::Value {
        json!([{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}])
    }

    #[test]
    fn complete_when_condition_and_counts_agree() {
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                   "conditions": completed()}),
        );
        assert!(rollout_complete().matches_object(Some(&d)));
    }

    #[test]
    fn stale_condition_after_upgrade_is_not_complete() {
        // helm upgrade bumped the generation; the controller has not looked yet.
        let d = deployment(
            3,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                   "conditions": completed()}),
        );
        assert!(!rollout_complete().matches_object(Some(&d)));
    }

    #[test]
    fn old_pods_still_running_is_not_complete() {
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 3,
                   "conditions": completed()}),
        );
        assert!(!rollout_complete().matches_object(Some(&d)));
    }

    #[test]
    fn progressing_without_new_replica_set_available_is_not_complete() {
        let d = deployment(
            1,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 0,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}),
        );
        assert!(!rollout_complete().matches_object(Some(&d)));
        assert!(!rollout_complete().matches_object(None));
    }
}
