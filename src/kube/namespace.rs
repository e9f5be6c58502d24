//! Namespaces: does it exist, and delete it waiting until it is really gone (a namespace lingers
//! in Terminating while its contents are deleted, and re-creating it then fails).

use std::time::Duration;

use ::kube::api::{Api, DeleteParams};
use ::kube::runtime::wait::{await_condition, conditions};
use k8s_openapi::api::core::v1::Namespace;

use super::{Cluster, KubeError};

pub async fn namespace_exists(cluster: &Cluster, namespace: &str) -> Result<bool, KubeError> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    api.get_opt(namespace)
        .await
        .map(|ns| ns.is_some())
        .map_err(|source| KubeError::Api {
            action: format!("get namespace {namespace}"),
            source,
        })
}

/// Deletes `namespace` (already gone is fine) and waits up to `wait` for it to disappear;
/// a zero `wait` only asks for the deletion.
pub async fn delete_namespace(
    cluster: &Cluster,
    namespace: &str,
    wait: Duration,
) -> Result<(), KubeError> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let api_error = |action: &str, source| KubeError::Api {
        action: format!("{action} namespace {namespace}"),
        source,
    };
    let Some(existing) = api
        .get_opt(namespace)
        .await
        .map_err(|e| api_error("get", e))?
    else {
        return Ok(());
    };
    match api.delete(namespace, &DeleteParams::background()).await {
        Ok(_) => {}
        // Deleted by someone else between the get and the delete.
        Err(::kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(e) => return Err(api_error("delete", e)),
    }
    if wait.is_zero() {
        return Ok(());
    }
    let uid = existing.metadata.uid.unwrap_or_default();
    let gone = await_condition(api, namespace, conditions::is_deleted(&uid));
    match tokio::time::timeout(wait, gone).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(KubeError::Watch {
            what: format!("namespace {namespace} to be deleted"),
            source,
        }),
        Err(_) => Err(KubeError::NamespaceDeleteTimeout {
            namespace: namespace.to_string(),
            after: wait,
        }),
    }
}
