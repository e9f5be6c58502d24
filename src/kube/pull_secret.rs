//! The image pull secret that lets pods pull from a registry that wants credentials: the same
//! `kubernetes.io/dockerconfigjson` Secret `kubectl create secret docker-registry` makes,
//! applied server-side so that `up` can run again and rotate it.

use ::kube::api::{Api, DeleteParams, Patch, PatchParams};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use serde_json::json;

use super::{Cluster, KubeError};

/// The Secret's name; the charts' `imagePullSecrets` and the in-cluster workers point at it.
pub const PULL_SECRET: &str = "thidctl-registry";

const FIELD_MANAGER: &str = "thidctl";

/// Creates or updates the pull secret for `registry` in `namespace`, creating the namespace
/// first when it does not exist yet (helm would create it only at the first release).
pub async fn apply_pull_secret(
    cluster: &Cluster,
    namespace: &str,
    registry: &str,
    username: &str,
    password: &str,
) -> Result<(), KubeError> {
    let params = PatchParams::apply(FIELD_MANAGER);
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let namespace_object = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace},
    });
    if !super::namespace_exists(cluster, namespace).await? {
        namespaces
            .patch(namespace, &params, &Patch::Apply(&namespace_object))
            .await
            .map_err(|source| KubeError::Api {
                action: format!("create namespace {namespace}"),
                source,
            })?;
    }
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": PULL_SECRET,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "thidctl"},
        },
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": docker_config_json(registry, username, password)},
    });
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    secrets
        .patch(PULL_SECRET, &params, &Patch::Apply(&secret))
        .await
        .map_err(|source| KubeError::Api {
            action: format!("apply secret {PULL_SECRET} in namespace {namespace}"),
            source,
        })?;
    Ok(())
}

/// Deletes the pull secret; `false` when there was none.
pub async fn delete_pull_secret(cluster: &Cluster, namespace: &str) -> Result<bool, KubeError> {
    let secrets: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    match secrets.delete(PULL_SECRET, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(::kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(KubeError::Api {
            action: format!("delete secret {PULL_SECRET} in namespace {namespace}"),
            source,
        }),
    }
}

/// The `.dockerconfigjson` document: one `auths` entry, with the `auth` field that kubelets
/// and containerd read.
fn docker_config_json(registry: &str, username: &str, password: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    json!({
        "auths": {
            registry: {"username": username, "password": password, "auth": auth}
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_json_is_what_kubectl_create_secret_docker_registry_makes() {
        let json: serde_json::Value =
            serde_json::from_str(&docker_config_json("127.0.0.1:5001", "ci-bot", "s3cret"))
                .unwrap();
        let entry = &json["auths"]["127.0.0.1:5001"];
        assert_eq!(entry["username"], "ci-bot");
        assert_eq!(entry["password"], "s3cret");
        assert_eq!(entry["auth"], "Y2ktYm90OnMzY3JldA==");
    }
}
