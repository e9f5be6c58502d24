//! Connecting: resolve the context from the kubeconfig, build a client, and prove the API server
//! answers before any step relies on it.

use std::time::Duration;

use ::kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use ::kube::{Client, Config};

use super::KubeError;

/// Long enough for a loaded local apiserver, short enough that a stopped cluster fails fast.
const REACHABILITY_TIMEOUT: Duration = Duration::from_secs(5);

/// A client bound to one kube context, with what was resolved from the kubeconfig.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    /// The context actually used (the current one when none was asked for).
    pub context: String,
    /// The API server URL, e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// The context's namespace, or `default`.
    pub default_namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server)
            .field("default_namespace", &self.default_namespace)
            .finish_non_exhaustive()
    }
}

/// Client for a kube context (`None` = current). Checks reachability with `apiserver_version`
/// under a short timeout, so a stopped cluster is one clear line instead of a later hang.
pub async fn connect(context: Option<&str>) -> Result<Cluster, KubeError> {
    let path = kubeconfig_path();
    let kubeconfig = match Kubeconfig::read() {
        Ok(kubeconfig) => kubeconfig,
        Err(source) => return Err(KubeError::Kubeconfig { path, source }),
    };
    connect_with(kubeconfig, path, context).await
}

/// [`connect`] with the kubeconfig already read; `path` only names it in errors.
async fn connect_with(
    kubeconfig: Kubeconfig,
    path: String,
    context: Option<&str>,
) -> Result<Cluster, KubeError> {
    let kubeconfig_error = |source: KubeconfigError| KubeError::Kubeconfig {
        path: path.clone(),
        source,
    };
    let resolved = match context {
        Some(name) => name.to_string(),
        None => kubeconfig
            .current_context
            .clone()
            .ok_or(KubeconfigError::CurrentContextNotSet)
            .map_err(kubeconfig_error)?,
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == resolved) {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(KubeError::UnknownContext {
            context: resolved,
            path,
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    }

    let options = KubeConfigOptions {
        context: Some(resolved.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(kubeconfig_error)?;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|source| KubeError::Client {
        context: resolved.clone(),
        path: path.clone(),
        source,
    })?;

    match tokio::time::timeout(REACHABILITY_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(Cluster {
            client,
            context: resolved,
            server,
            default_namespace,
        }),
        Ok(Err(source @ ::kube::Error::Api(_))) => Err(KubeError::Rejected {
            server,
            context: resolved,
            path,
            source,
        }),
        Ok(Err(source)) => Err(KubeError::Unreachable {
            server,
            context: resolved,
            path,
            source,
        }),
        Err(_) => Err(KubeError::ConnectTimeout {
            server,
            context: resolved,
            path,
            after: REACHABILITY_TIMEOUT,
        }),
    }
}

/// Where the kubeconfig comes from, as a user would type it: `$KUBECONFIG` (possibly a list)
/// or `~/.kube/config`.
fn kubeconfig_path() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(value) if !value.is_empty() => value,
        _ => "~/.kube/config".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubeconfig for a server on a loopback port nothing listens on.
    fn kubeconfig_for_closed_port() -> (Kubeconfig, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = format!("https://127.0.0.1:{port}");
        let yaml = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: kind-x\n\
             clusters: [{{name: x, cluster: {{server: '{server}', insecure-skip-tls-verify: true}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\n\
             contexts: [{{name: kind-x, context: {{cluster: x, user: u, namespace: load}}}}]\n"
        );
        (Kubeconfig::from_yaml(&yaml).unwrap(), server)
    }

    #[tokio::test]
    async fn stopped_cluster_is_one_line_with_the_fix() {
        let (kubeconfig, server) = kubeconfig_for_closed_port();
        let err = connect_with(kubeconfig, "/tmp/kc".into(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, KubeError::Unreachable { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "no cluster at {server} (context kind-x, kubeconfig /tmp/kc): is it running? check `kubectl cluster-info`"
            )
        );
    }

    #[tokio::test]
    async fn unknown_context_lists_the_known_ones() {
        let (kubeconfig, _) = kubeconfig_for_closed_port();
        let err = connect_with(kubeconfig, "/tmp/kc".into(), Some("prod"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no context \"prod\" in kubeconfig /tmp/kc (known: kind-x); pick one from `kubectl config get-contexts`"
        );
    }
}
