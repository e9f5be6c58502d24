//! "Why is it not ready?" in one line, read from pod and deployment status — the answer a user
//! would otherwise dig out of `kubectl describe`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Pod};

use super::pods::is_pod_ready;

/// Messages from the kubelet can be long and multi-line; this keeps a reason to one readable line.
const MAX_MESSAGE: usize = 160;

/// Pod problems listed per deployment before the rest are counted instead.
const MAX_LISTED: usize = 3;

/// Why one pod is not serving, or `None` when it is Running with every container ready.
pub fn pod_problem(pod: &Pod) -> Option<String> {
    if is_pod_ready(pod) {
        return None;
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Some("terminating".into());
    }
    let Some(status) = &pod.status else {
        return Some("no status yet (not seen by the scheduler)".into());
    };
    let phase = status.phase.as_deref().unwrap_or("Unknown");

    if let Some(cond) = condition(pod, "PodScheduled")
        && cond.status == "False"
    {
        let reason = cond.reason.as_deref().unwrap_or("not scheduled");
        let reason = if reason == "Unschedulable" {
            "unschedulable"
        } else {
            reason
        };
        return Some(match &cond.message {
            Some(message) => format!("{phase}: {reason}: {}", one_line(message)),
            None => format!("{phase}: {reason}"),
        });
    }

    if matches!(phase, "Failed" | "Succeeded") {
        let why = status
            .message
            .as_deref()
            .or(status.reason.as_deref())
            .map(one_line);
        return Some(match why {
            Some(why) => format!("pod {phase}: {why}"),
            None => format!("pod {phase}"),
        });
    }

    // Init containers run first; while one is failing the app containers only say "PodInitializing".
    for cs in status.init_container_statuses.iter().flatten() {
        let finished_ok = matches!(
            cs.state.as_ref().and_then(|s| s.terminated.as_ref()),
            Some(t) if t.exit_code == 0
        );
        if !finished_ok && !cs.ready {
            return Some(container_problem("init container", cs));
        }
    }

    let problems: Vec<String> = status
        .container_statuses
        .iter()
        .flatten()
        .filter(|cs| !cs.ready)
        .map(|cs| container_problem("container", cs))
        .collect();
    if !problems.is_empty() {
        return Some(problems.join(", "));
    }

    if let Some(cond) = condition(pod, "Ready")
        && cond.status != "True"
    {
        let why = cond
            .message
            .as_deref()
            .or(cond.reason.as_deref())
            .unwrap_or("Ready is False");
        return Some(format!("{phase}, not ready: {}", one_line(why)));
    }
    Some(match &status.reason {
        Some(reason) => format!("{phase}: {reason}"),
        None => phase.to_string(),
    })
}

/// Why a deployment's rollout is not complete, from its pods (those its selector matches) and,
/// when the pods do not explain it, its own conditions and replica counts.
pub fn deployment_problem(deployment: &Deployment, pods: &[Pod]) -> String {
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    let mut order = Vec::new();
    for problem in pods.iter().filter_map(pod_problem) {
        let count = counted.entry(problem.clone()).or_insert(0);
        if *count == 0 {
            order.push(problem);
        }
        *count += 1;
    }
    // A quota or admission failure stops pods from being created at all; say so first.
    let replica_failure = deployment_condition(deployment, "ReplicaFailure", "True");

    let mut parts: Vec<String> = replica_failure.into_iter().collect();
    for problem in order.iter().take(MAX_LISTED) {
        parts.push(match counted[problem] {
            1 => problem.clone(),
            n => format!("{problem} ({n} pods)"),
        });
    }
    if order.len() > MAX_LISTED {
        parts.push(format!("and {} more", order.len() - MAX_LISTED));
    }
    if !parts.is_empty() {
        return parts.join("; ");
    }

    // Pods look fine (or there are none): the deployment itself says where it is.
    if let Some(failed) = deployment_condition(deployment, "Progressing", "False") {
        return failed;
    }
    let spec = deployment.spec.as_ref();
    if spec.and_then(|s| s.paused) == Some(true) {
        return "rollout paused (`kubectl rollout resume`)".into();
    }
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    if pods.is_empty() && desired > 0 {
        return format!("no pods created for {desired} desired replicas");
    }
    format!(
        "rollout in progress: {}/{desired} updated, {} available",
        status.updated_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0)
    )
}

fn container_problem(kind: &str, cs: &ContainerStatus) -> String {
    let name = &cs.name;
    let restarts = match cs.restart_count {
        0 => String::new(),
        1 => ", restarted once".into(),
        n => format!(", restarted {n} times"),
    };
    let state = cs.state.as_ref().cloned().unwrap_or_default();
    if let Some(waiting) = &state.waiting {
        let reason = waiting.reason.as_deref().unwrap_or("waiting");
        let message = waiting.message.as_deref().unwrap_or("");
        return match reason {
            "CrashLoopBackOff" => format!(
                "{kind} {name} CrashLoopBackOff ({}){restarts}",
                last_exit(cs.last_state.as_ref()).unwrap_or_else(|| "no exit recorded".into())
            ),
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
                format!(
                    "{kind} {name} {reason}: {} {}",
                    cs.image,
                    image_pull_hint(message)
                )
            }
            "ContainerCreating" | "PodInitializing" => format!("{kind} {name} {reason}"),
            _ if message.is_empty() => format!("{kind} {name} {reason}{restarts}"),
            _ => format!("{kind} {name} {reason}: {}{restarts}", one_line(message)),
        };
    }
    if state.running.is_some() {
        let probe = if cs.started == Some(false) {
            "startup"
        } else {
            "readiness"
        };
        return format!(
            "{kind} {name} running but not ready ({probe} probe not passing){restarts}"
        );
    }
    if state.terminated.is_some() {
        let exit = last_exit(Some(&state)).unwrap_or_default();
        return format!("{kind} {name} terminated ({exit}){restarts}");
    }
    format!("{kind} {name} not started yet")
}

/// `exit 1` or `exit 137, OOMKilled`, from a terminated state.
fn last_exit(state: Option<&ContainerState>) -> Option<String> {
    let terminated = state?.terminated.as_ref()?;
    Some(match terminated.reason.as_deref() {
        // "Error" and "Completed" add nothing to the exit code.
        Some("Error" | "Completed") | None => format!("exit {}", terminated.exit_code),
        Some(reason) => format!("exit {}, {reason}", terminated.exit_code),
    })
}

/// The useful end of an image pull message, which otherwise repeats the image three times.
fn image_pull_hint(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    let hint = if lower.contains("not found") || lower.contains("manifest unknown") {
        "not found"
    } else if lower.contains("unauthorized") || lower.contains("authentication required") {
        "unauthorized (missing imagePullSecrets?)"
    } else if lower.contains("http response to https client") {
        "registry speaks plain HTTP but the node expects HTTPS"
    } else if lower.contains("connection refused") {
        "registry refused the connection"
    } else if lower.contains("i/o timeout") || lower.contains("no such host") {
        "registry unreachable from the node"
    } else if lower.contains("back-off pulling image") && !lower.contains(": ") {
        "pull backing off"
    } else {
        return one_line(message.rsplit(": ").next().unwrap_or(message));
    };
    hint.to_string()
}

fn condition<'a>(
    pod: &'a Pod,
    type_: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// `reason: message` of a deployment condition with the given type and status.
fn deployment_condition(deployment: &Deployment, type_: &str, status: &str) -> Option<String> {
    let cond = deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)?;
    let reason = cond.reason.as_deref().unwrap_or(type_);
    Some(match &cond.message {
        Some(message) => format!("{reason}: {}", one_line(message)),
        None => reason.to_string(),
    })
}

fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_MESSAGE {
        return flat;
    }
    let cut: String = flat.chars().take(MAX_MESSAGE).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("fixture is a Pod")
    }

    fn starter_pod(status: serde_json::Value) -> Pod {
        pod(json!({
            "metadata": {"name": "thidwick-thidwick-starter-7d9f-abcde", "labels": {"app": "thidwick-starter"}},
            "spec": {"containers": [{"name": "starter", "image": "127.0.0.1:5000/thidwick-starter:dev"}]},
            "status": status
        }))
    }

    fn deployment(status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "thidwick-thidwick-starter", "generation": 1},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "thidwick-starter"}},
                "template": {"spec": {"containers": [{"name": "starter", "image": "x"}]}}
            },
            "status": status
        }))
        .expect("fixture is a Deployment")
    }

    fn crash_looping(restarts: i32) -> Pod {
        starter_pod(json!({
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
            ],
            "containerStatuses": [{
                "name": "starter", "image": "127.0.0.1:5000/thidwick-starter:dev", "imageID": "",
                "ready": false, "restartCount": restarts, "started": false,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                    "message": "back-off 40s restarting failed container=starter pod=thidwick-thidwick-starter-7d9f-abcde_default(…)"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                    "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:01Z"}}
            }]
        }))
    }

    #[test]
    fn crash_loop_names_exit_code_and_restarts() {
        assert_eq!(
            pod_problem(&crash_looping(3)).unwrap(),
            "container starter CrashLoopBackOff (exit 1), restarted 3 times"
        );
    }

    #[test]
    fn oom_kill_keeps_its_reason() {
        let mut p = crash_looping(1);
        let cs = &mut p
            .status
            .as_mut()
            .unwrap()
            .container_statuses
            .as_mut()
            .unwrap()[0];
        let t = cs.last_state.as_mut().unwrap().terminated.as_mut().unwrap();
        t.exit_code = 137;
        t.reason = Some("OOMKilled".into());
        assert_eq!(
            pod_problem(&p).unwrap(),
            "container starter CrashLoopBackOff (exit 137, OOMKilled), restarted once"
        );
    }

    #[test]
    fn image_pull_back_off_names_image_and_cause() {
        let p = starter_pod(json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "starter", "image": "127.0.0.1:5000/x:y", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff",
                    "message": "Back-off pulling image \"127.0.0.1:5000/x:y\": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image \"127.0.0.1:5000/x:y\": failed to resolve reference \"127.0.0.1:5000/x:y\": 127.0.0.1:5000/x:y: not found"}}
            }]
        }));
        assert_eq!(
            pod_problem(&p).unwrap(),
            "container starter ImagePullBackOff: 127.0.0.1:5000/x:y not found"
        );
    }

    #[test]
    fn unschedulable_pending_pod_quotes_the_scheduler() {
        let p = starter_pod(json!({
            "phase": "Pending",
            "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
            }]
        }));
        assert_eq!(
            pod_problem(&p).unwrap(),
            "Pending: unschedulable: 0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn running_but_unready_blames_the_probe() {
        let p = starter_pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "starter", "image": "i", "imageID": "", "ready": false, "restartCount": 0, "started": true,
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
            }]
        }));
        assert_eq!(
            pod_problem(&p).unwrap(),
            "container starter running but not ready (readiness probe not passing)"
        );
    }

    #[test]
    fn failing_init_container_comes_first() {
        let p = starter_pod(json!({
            "phase": "Pending",
            "initContainerStatuses": [{
                "name": "wait-db", "image": "i", "imageID": "", "ready": false, "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 2}}
            }],
            "containerStatuses": [{
                "name": "starter", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "PodInitializing"}}
            }]
        }));
        assert_eq!(
            pod_problem(&p).unwrap(),
            "init container wait-db CrashLoopBackOff (exit 2), restarted 2 times"
        );
    }

    #[test]
    fn ready_pod_has_no_problem() {
        let p = starter_pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{
                "name": "starter", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {}}
            }]
        }));
        assert_eq!(pod_problem(&p), None);
    }

    #[test]
    fn deployment_groups_identical_pod_problems() {
        let d = deployment(json!({"replicas": 2, "updatedReplicas": 2}));
        let pods = [crash_looping(3), crash_looping(3)];
        assert_eq!(
            deployment_problem(&d, &pods),
            "container starter CrashLoopBackOff (exit 1), restarted 3 times (2 pods)"
        );
    }

    #[test]
    fn deployment_without_pods_reports_replica_failure() {
        let d = deployment(json!({
            "conditions": [
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated"},
                {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                 "message": "pods \"x-1\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=0, limited: cpu=1"}
            ]
        }));
        assert_eq!(
            deployment_problem(&d, &[]),
            "FailedCreate: pods \"x-1\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=0, limited: cpu=1"
        );
    }

    #[test]
    fn deployment_past_deadline_says_so() {
        let d = deployment(json!({
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"x-1\" has timed out progressing."}]
        }));
        assert_eq!(
            deployment_problem(&d, &[]),
            "ProgressDeadlineExceeded: ReplicaSet \"x-1\" has timed out progressing."
        );
    }

    #[test]
    fn deployment_with_no_pods_and_no_conditions() {
        assert_eq!(
            deployment_problem(&deployment(json!({})), &[]),
            "no pods created for 1 desired replicas"
        );
    }

    #[test]
    fn long_messages_are_cut_to_one_line() {
        let text = format!("first line\nsecond {}", "x".repeat(300));
        let line = one_line(&text);
        assert!(!line.contains('\n'));
        assert_eq!(line.chars().count(), MAX_MESSAGE + 1);
        assert!(line.ends_with('…'));
    }
}
