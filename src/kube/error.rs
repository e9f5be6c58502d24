//! The one error type of the kube module. Every message is a single line that names where it
//! looked (kubeconfig, context, namespace, selector) and, where there is one, the fix.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

/// A deployment that did not become ready, and why (from its pods and its conditions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unready {
    pub name: String,
    pub why: String,
}

impl std::fmt::Display for Unready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.why)
    }
}

#[derive(Debug, Error)]
pub enum KubeError {
    #[error(
        "cannot load kubeconfig {path}: set KUBECONFIG to a working one (for the testbed: `eval \"$(scripts/testbed env)\"`)"
    )]
    Kubeconfig {
        path: String,
        #[source]
        source: ::kube::config::KubeconfigError,
    },

    #[error(
        "no context {context:?} in kubeconfig {path} (known: {known}); pick one from `kubectl config get-contexts`"
    )]
    UnknownContext {
        context: String,
        path: String,
        known: String,
    },

    #[error("cannot build a client for context {context} from kubeconfig {path}")]
    Client {
        context: String,
        path: String,
        #[source]
        source: ::kube::Error,
    },

    #[error(
        "no cluster at {server} (context {context}, kubeconfig {path}): is it running? check `kubectl cluster-info`"
    )]
    Unreachable {
        server: String,
        context: String,
        path: String,
        #[source]
        source: ::kube::Error,
    },

    /// The server answered but refused us: credentials, not connectivity.
    #[error(
        "the cluster at {server} (context {context}, kubeconfig {path}) refused the request: check the credentials with `kubectl auth whoami`"
    )]
    Rejected {
        server: String,
        context: String,
        path: String,
        #[source]
        source: ::kube::Error,
    },

    #[error("no answer from {server} within {}s (context {context}, kubeconfig {path}): is it running? check `kubectl cluster-info`", .after.as_secs())]
    ConnectTimeout {
        server: String,
        context: String,
        path: String,
        after: Duration,
    },

    /// A plain API call failed; `action` says what we were doing ("list pods -l app=x in ns").
    #[error("cannot {action}")]
    Api {
        action: String,
        #[source]
        source: ::kube::Error,
    },

    /// A watch behind a wait broke (not a timeout: those are reported with reasons).
    #[error("lost the watch while waiting for {what}")]
    Watch {
        what: String,
        #[source]
        source: ::kube::runtime::wait::Error,
    },

    #[error(
        "no deployments match -l {selector} in namespace {namespace}: check `kubectl get deploy -n {namespace} --show-labels`"
    )]
    NoDeployments { namespace: String, selector: String },

    #[error("deployments not ready after {}s in namespace {namespace}: {}", .after.as_secs(), join(.unready))]
    RolloutTimeout {
        namespace: String,
        selector: String,
        after: Duration,
        unready: Vec<Unready>,
    },

    #[error("no ready pod matches -l {selector} in namespace {namespace}: {seen}")]
    NoReadyPod {
        namespace: String,
        selector: String,
        /// What was there instead ("no pods" or each pod's reason).
        seen: String,
    },

    #[error("namespace {namespace} still exists {}s after deleting it: check `kubectl get all -n {namespace}`", .after.as_secs())]
    NamespaceDeleteTimeout { namespace: String, after: Duration },

    #[error("cannot listen on {addr} for the {name} port-forward")]
    Bind {
        name: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn join(unready: &[Unready]) -> String {
    unready
        .iter()
        .map(Unready::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
