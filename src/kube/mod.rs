//! kube-rs for the runbook: connect to a context, wait for rollouts, find pods by label, say why
//! something is not ready, and keep port-forwards that follow pods across restarts.
//!
//! This module is named like the crate it wraps, so inside it the crate is `::kube`.

mod client;
mod error;
pub mod forward;
mod namespace;
mod pods;
pub mod pull_secret;
mod rollout;
mod selector;
mod why;

pub use client::{Cluster, connect};
pub use error::{KubeError, Unready};
pub use forward::{Forward, ForwardSpec};
pub use namespace::{delete_namespace, namespace_exists};
pub use pods::{PodSummary, pod_problems, pod_summaries, ready_pod};
pub use rollout::wait_for_deployments;
pub use selector::{format_selector, label_selector_string};
pub use why::{deployment_problem, pod_problem};
