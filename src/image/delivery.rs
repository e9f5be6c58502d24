//! How built images reach the cluster: pushed to a registry the nodes pull from, or loaded
//! straight into a local cluster's nodes (kind, minikube), or already there (Docker Desktop,
//! whose Kubernetes shares the engine's image store).

use std::io::ErrorKind;

use super::{BuildEvent, Docker, ImageError, ImageSpec, RegistryCredentials};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Registry { registry: String },
    Kind { cluster: String },
    Minikube { profile: String },
    DockerDesktop,
}

impl Delivery {
    /// Chooses from the kube context name; `registry` serves clusters that cannot see local images.
    pub fn for_context(context: &str, registry: Option<&str>) -> Result<Delivery, ImageError> {
        Delivery::for_cluster(context, None, registry)
    }

    /// Like [`Delivery::for_context`], also looking at the context's cluster name, which
    /// survives a renamed context (minikube's cluster entry is named after its profile).
    pub fn for_cluster(
        context: &str,
        cluster: Option<&str>,
        registry: Option<&str>,
    ) -> Result<Delivery, ImageError> {
        let names = [Some(context), cluster];
        for name in names.into_iter().flatten() {
            if let Some(cluster) = name.strip_prefix("kind-").filter(|rest| !rest.is_empty()) {
                return Ok(Delivery::Kind {
                    cluster: cluster.to_string(),
                });
            }
            match name {
                "minikube" => {
                    return Ok(Delivery::Minikube {
                        profile: "minikube".to_string(),
                    });
                }
                "docker-desktop" | "docker-for-desktop" => return Ok(Delivery::DockerDesktop),
                _ => {}
            }
        }
        match registry.map(|registry| registry.trim().trim_end_matches('/')) {
            Some(registry) if !registry.is_empty() => Ok(Delivery::Registry {
                registry: registry.to_string(),
            }),
            _ => Err(ImageError::NoDelivery {
                context: context.to_string(),
            }),
        }
    }

    /// The reference the cluster pulls.
    pub fn cluster_ref(&self, spec: &ImageSpec) -> String {
        match self {
            Delivery::Registry { registry } => format!("{registry}/{}", spec.local_ref()),
            _ => spec.local_ref(),
        }
    }

    /// Local clusters already hold the image and have no registry to pull `name:tag` from, so
    /// they must not try; a registry tag like `dev` is rebuilt in place, so nodes must re-pull.
    pub fn pull_policy(&self) -> &'static str {
        match self {
            Delivery::Registry { .. } => "Always",
            _ => "IfNotPresent",
        }
    }

    /// Gets the built image of `spec` to the cluster and returns the reference pods should use.
    pub async fn deliver(
        &self,
        docker: &Docker,
        spec: &ImageSpec,
        credentials: Option<RegistryCredentials>,
        on_event: &mut (dyn FnMut(BuildEvent) + Send),
    ) -> Result<String, ImageError> {
        let local = spec.local_ref();
        let cluster_ref = self.cluster_ref(spec);
        match self {
            Delivery::Registry { .. } => {
                docker
                    .push(&local, &cluster_ref, credentials, on_event)
                    .await?
            }
            Delivery::Kind { cluster } => {
                let tool = Tool {
                    binary: "kind",
                    install: "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
                };
                tool.run(
                    ["load", "docker-image", &local, "--name", cluster],
                    on_event,
                )
                .await?;
            }
            Delivery::Minikube { profile } => {
                let tool = Tool {
                    binary: "minikube",
                    install: "install minikube: https://minikube.sigs.k8s.io/docs/start/",
                };
                tool.run(["image", "load", &local, "-p", profile], on_event)
                    .await?;
            }
            Delivery::DockerDesktop => {}
        }
        Ok(cluster_ref)
    }
}

/// A local-cluster CLI that copies an image from the engine into the nodes.
struct Tool {
    binary: &'static str,
    install: &'static str,
}

impl Tool {
    async fn run<const N: usize>(
        &self,
        args: [&str; N],
        on_event: &mut (dyn FnMut(BuildEvent) + Send),
    ) -> Result<(), ImageError> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let command = std::iter::once(self.binary.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        on_event(BuildEvent::Output(command.clone()));
        let binary = self.binary;
        // duct blocks; the load can take a while for big images.
        let result = tokio::task::spawn_blocking(move || {
            duct::cmd(binary, &args)
                .stderr_to_stdout()
                .stdout_capture()
                .unchecked()
                .run()
        })
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()));
        match result {
            Err(error) if error.kind() == ErrorKind::NotFound => Err(ImageError::ToolMissing {
                binary: self.binary,
                install: self.install,
            }),
            Err(error) => Err(ImageError::LoadFailed {
                command,
                output: error.to_string(),
            }),
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => {
                let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
                let output = if text.is_empty() {
                    output.status.to_string()
                } else {
                    text
                };
                Err(ImageError::LoadFailed { command, output })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn spec() -> ImageSpec {
        ImageSpec {
            name: "thidctl/thidwick-starter".into(),
            tag: "dev".into(),
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            extra_files: Vec::new(),
            build_args: BTreeMap::new(),
            network_host: false,
        }
    }

    #[test]
    fn the_context_picks_the_delivery() {
        let kind = |name: &str| Delivery::Kind {
            cluster: name.into(),
        };
        let table: &[(&str, Option<&str>, Delivery)] = &[
            ("kind-thid", None, kind("thid")),
            ("kind-kind", Some("127.0.0.1:5000"), kind("kind")),
            (
                "minikube",
                None,
                Delivery::Minikube {
                    profile: "minikube".into(),
                },
            ),
            ("docker-desktop", None, Delivery::DockerDesktop),
            ("docker-for-desktop", None, Delivery::DockerDesktop),
            (
                "gke_proj_europe-west1_thid",
                Some("europe-docker.pkg.dev/proj/thid"),
                Delivery::Registry {
                    registry: "europe-docker.pkg.dev/proj/thid".into(),
                },
            ),
            (
                "thidtb",
                Some("127.0.0.1:5000/"),
                Delivery::Registry {
                    registry: "127.0.0.1:5000".into(),
                },
            ),
        ];
        for (context, registry, expected) in table {
            assert_eq!(
                &Delivery::for_context(context, *registry).unwrap(),
                expected,
                "context {context}"
            );
        }
    }

    #[test]
    fn a_remote_context_without_registry_asks_for_one() {
        for registry in [None, Some(""), Some("  ")] {
            let message = Delivery::for_context("gke_proj_europe-west1_thid", registry)
                .unwrap_err()
                .to_string();
            assert!(
                message.contains("gke_proj_europe-west1_thid") && message.contains("--registry"),
                "{message}"
            );
        }
        assert!(
            Delivery::for_context("kind-", None).is_err(),
            "kind- alone names no cluster"
        );
    }

    #[test]
    fn a_renamed_context_is_recognised_by_its_cluster() {
        assert_eq!(
            Delivery::for_cluster("my-laptop", Some("minikube"), None).unwrap(),
            Delivery::Minikube {
                profile: "minikube".into()
            }
        );
        assert_eq!(
            Delivery::for_cluster("work", Some("kind-thid"), None).unwrap(),
            Delivery::Kind {
                cluster: "thid".into()
            }
        );
    }

    #[test]
    fn cluster_refs_and_pull_policies() {
        let registry = Delivery::Registry {
            registry: "127.0.0.1:5000".into(),
        };
        assert_eq!(
            registry.cluster_ref(&spec()),
            "127.0.0.1:5000/thidctl/thidwick-starter:dev"
        );
        assert_eq!(registry.pull_policy(), "Always");
        for local in [
            Delivery::Kind {
                cluster: "thid".into(),
            },
            Delivery::Minikube {
                profile: "minikube".into(),
            },
            Delivery::DockerDesktop,
        ] {
            assert_eq!(local.cluster_ref(&spec()), "thidctl/thidwick-starter:dev");
            assert_eq!(local.pull_policy(), "IfNotPresent");
        }
    }

    #[tokio::test]
    async fn a_missing_tool_says_how_to_install_it() {
        let tool = Tool {
            binary: "thidctl-no-such-kind",
            install: "install kind: https://kind.sigs.k8s.io/",
        };
        let error = tool.run(["load"], &mut |_| {}).await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("thidctl-no-such-kind") && message.contains("install kind"),
            "{message}"
        );
    }
}
