//! Which worker-pod troubles end a run at once (waiting would only waste the user's time) and
//! which are the ordinary steps of a pod starting.

use k8s_openapi::api::core::v1::Pod;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodFault {
    /// The pod will not run without the user changing something.
    Fatal(String),
    /// Still on its way (scheduling, pulling, creating the container).
    Waiting(String),
}

/// Container waiting reasons that do not resolve by themselves.
const IMAGE_REASONS: [&str; 4] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];
const CONFIG_REASONS: [&str; 3] = [
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The pod's trouble, if any; `None` once it runs or has finished.
pub fn fault(pod: &Pod) -> Option<PodFault> {
    let status = pod.status.as_ref()?;
    if matches!(
        status.phase.as_deref(),
        Some("Running" | "Succeeded" | "Failed")
    ) {
        return None;
    }
    if let Some(condition) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        let message = condition.message.as_deref().unwrap_or("no node fits it");
        if condition.reason.as_deref() == Some("Unschedulable") {
            return Some(PodFault::Fatal(format!(
                "it cannot be scheduled ({}); ask for fewer --workers or a smaller --worker-cpu",
                one_line(message)
            )));
        }
        return Some(PodFault::Waiting(format!(
            "not scheduled: {}",
            one_line(message)
        )));
    }
    for container in status.container_statuses.iter().flatten() {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or("waiting");
        let message = waiting.message.as_deref().map(one_line).unwrap_or_default();
        if IMAGE_REASONS.contains(&reason) {
            return Some(PodFault::Fatal(format!(
                "image {} is not in the cluster ({reason}: {message}); `thidctl up` builds and \
                 delivers thidctl's image, or give --worker-image with one the cluster can pull",
                container.image
            )));
        }
        if CONFIG_REASONS.contains(&reason) {
            return Some(PodFault::Fatal(format!("{reason}: {message}")));
        }
        return Some(PodFault::Waiting(reason.to_string()));
    }
    Some(PodFault::Waiting(
        status.phase.clone().unwrap_or_else(|| "Pending".into()),
    ))
}

/// Kubelet messages can run over many lines; one line of at most 200 characters is enough.
fn one_line(message: &str) -> String {
    let joined = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "w-0"},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn unschedulable_is_fatal_and_says_what_to_change() {
        let pod = pod(serde_json::json!({
            "phase": "Pending",
            "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient cpu.\npreemption: 0/1 nodes"
            }]
        }));
        match fault(&pod) {
            Some(PodFault::Fatal(why)) => {
                assert!(why.contains("Insufficient cpu. preemption"), "{why}");
                assert!(why.contains("--worker-cpu"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_image_is_fatal_and_names_it() {
        let pod = pod(serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{
                "name": "worker", "image": "127.0.0.1:5000/nope:1", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling"}}
            }]
        }));
        match fault(&pod) {
            Some(PodFault::Fatal(why)) => {
                assert!(why.contains("127.0.0.1:5000/nope:1"), "{why}");
                assert!(why.contains("thidctl up"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn starting_and_running_are_not_faults() {
        let creating = pod(serde_json::json!({
            "phase": "Pending",
            "containerStatuses": [{
                "name": "worker", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}
            }]
        }));
        assert_eq!(
            fault(&creating),
            Some(PodFault::Waiting("ContainerCreating".into()))
        );
        assert_eq!(fault(&pod(serde_json::json!({"phase": "Running"}))), None);
        assert_eq!(fault(&pod(serde_json::json!({"phase": "Failed"}))), None);
    }
}
