//! The steps of `up`, each small and behind the one-method `Step` trait.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::{Context, Reporter, Step, StepFuture};
use crate::config::{Config, ImageConfig, ReleaseConfig};
use crate::helm::{Helm, Release};
use crate::image::{BuildEvent, Delivery, Docker, ImageSpec, credentials, short_id};
use crate::kube::forward::ForwardSpec;

/// The steps of `up` for this configuration, in order; image steps only for images in use.
pub fn up_steps(config: &Config) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(ConnectCluster), Box::new(LocateHelm)];
    let images = images_in_use(config);
    if !images.is_empty() {
        steps.push(Box::new(ConnectDocker));
        for image in &images {
            steps.push(Box::new(BuildImage(image.clone())));
        }
        for image in &images {
            steps.push(Box::new(DeliverImage(image.clone())));
        }
        if config.registry.is_some() {
            steps.push(Box::new(ApplyPullSecret));
        }
    }
    for release in &config.releases {
        steps.push(Box::new(InstallRelease(release.clone())));
    }
    steps.push(Box::new(WaitRollouts));
    if !config.forwards.is_empty() {
        steps.push(Box::new(OpenForwards));
    }
    steps
}

/// The images some release runs, and thidctl's own, which `load --in-cluster` runs.
fn images_in_use(config: &Config) -> Vec<ImageConfig> {
    config
        .images
        .iter()
        .filter(|image| {
            image.name == crate::incluster::IMAGE_NAME
                || config
                    .releases
                    .iter()
                    .any(|r| r.image.as_ref().is_some_and(|i| i.name == image.name))
        })
        .cloned()
        .collect()
}

pub struct ConnectCluster;

impl Step for ConnectCluster {
    fn title(&self) -> String {
        "connect to the cluster".into()
    }

    fn run<'a>(&'a self, context: &'a mut Context, _: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let cluster = crate::kube::connect(context.config.context.as_deref()).await?;
            let detail = format!("context {} at {}", cluster.context, cluster.server);
            context.cluster = Some(cluster);
            Ok(detail)
        })
    }
}

pub struct LocateHelm;

impl Step for LocateHelm {
    fn title(&self) -> String {
        "find helm".into()
    }

    fn run<'a>(&'a self, context: &'a mut Context, _: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let kube_context = context.cluster()?.context.clone();
            let helm = Helm::locate(context.config.helm.as_deref(), Some(&kube_context))?;
            let detail = format!("helm {}", helm.version);
            context.helm = Some(helm);
            Ok(detail)
        })
    }
}

pub struct ConnectDocker;

impl Step for ConnectDocker {
    fn title(&self) -> String {
        "connect to Docker".into()
    }

    fn run<'a>(&'a self, context: &'a mut Context, _: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let docker = Docker::connect().await?;
            let delivery = choose_delivery(&context.config, &context.cluster()?.context)?;
            let mut detail = format!(
                "Engine API {}, images reach the cluster by {}",
                docker.api_version(),
                delivery_label(&delivery)
            );
            if let Delivery::Registry { registry } = &delivery {
                context.registry_credentials = credentials::find(registry)?;
                if let Some(found) = &context.registry_credentials {
                    detail.push_str(&format!(" as {}", found.username));
                }
            }
            context.docker = Some(docker);
            context.delivery = Some(delivery);
            Ok(detail)
        })
    }
}

/// The configured delivery, or the one the kube context implies.
pub fn choose_delivery(config: &Config, kube_context: &str) -> anyhow::Result<Delivery> {
    let registry = config.registry.as_deref();
    Ok(match config.delivery.as_str() {
        "auto" => Delivery::for_context(kube_context, registry)?,
        "registry" => Delivery::Registry {
            registry: registry
                .context("--delivery registry needs --registry HOST:PORT")?
                .to_string(),
        },
        "kind" => Delivery::Kind {
            cluster: kube_context
                .strip_prefix("kind-")
                .unwrap_or(kube_context)
                .to_string(),
        },
        "minikube" => Delivery::Minikube {
            profile: kube_context.to_string(),
        },
        "docker-desktop" => Delivery::DockerDesktop,
        other => bail!(
            "delivery {other:?} is unknown; use auto, registry, kind, minikube or docker-desktop"
        ),
    })
}

pub fn delivery_label(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Registry { registry } => format!("push to {registry}"),
        Delivery::Kind { cluster } => format!("kind load (cluster {cluster})"),
        Delivery::Minikube { profile } => format!("minikube image load (profile {profile})"),
        Delivery::DockerDesktop => "Docker Desktop's shared image store".into(),
    }
}

/// The build of one configured image, with paths resolved against the project.
pub fn image_spec(config: &Config, image: &ImageConfig) -> anyhow::Result<ImageSpec> {
    let context = config.path(&image.context);
    if !context.is_dir() {
        bail!(
            "build context {} of image {} is not a directory (run from the thidctl checkout or set --project-dir)",
            context.display(),
            image.name
        );
    }
    let dockerfile = config.path(&image.dockerfile);
    if !dockerfile.is_file() {
        bail!(
            "Dockerfile {} of image {} does not exist",
            dockerfile.display(),
            image.name
        );
    }
    let mut extra_files = Vec::new();
    if let Some(binary) = &image.binary {
        extra_files.push((sibling_binary(binary)?, binary.clone()));
    }
    Ok(ImageSpec {
        name: image.repository.clone(),
        tag: config.tag.clone(),
        context,
        dockerfile,
        extra_files,
        build_args: BTreeMap::from([("BASE_IMAGE".to_string(), config.base_image.clone())]),
        network_host: config.build_network_host,
    })
}

/// A binary installed beside thidctl (cargo builds them into the same directory).
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let own = std::env::current_exe().context("cannot find thidctl's own path")?;
    let path = own
        .parent()
        .map(|dir| dir.join(name))
        .unwrap_or_else(|| PathBuf::from(name));
    if !path.is_file() {
        bail!(
            "{} not found next to thidctl; build it with `cargo build --release --bins`",
            path.display()
        );
    }
    Ok(path)
}

pub struct BuildImage(pub ImageConfig);

impl Step for BuildImage {
    fn title(&self) -> String {
        format!("build image {}", self.0.repository)
    }

    fn run<'a>(&'a self, context: &'a mut Context, reporter: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let spec = image_spec(&context.config, &self.0)?;
            let title = self.title();
            let id = context
                .docker()?
                .build(&spec, &mut |event| report_event(reporter, &title, event))
                .await?;
            let summary = format!("{} ({})", spec.local_ref(), short_id(&id));
            context.built_ids.insert(self.0.name.clone(), id);
            Ok(summary)
        })
    }
}

pub struct DeliverImage(pub ImageConfig);

impl Step for DeliverImage {
    fn title(&self) -> String {
        format!("deliver image {}", self.0.repository)
    }

    fn run<'a>(&'a self, context: &'a mut Context, reporter: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let built = image_spec(&context.config, &self.0)?;
            let id = context
                .built_ids
                .get(&self.0.name)
                .context("the image was not built in this run")?;
            let spec = built.pinned(id);
            let docker = context.docker()?;
            docker.tag(id, &spec.local_ref()).await?;
            let title = self.title();
            let delivery = context.delivery.as_ref().context("no delivery chosen")?;
            let credentials = context.registry_credentials.clone();
            let cluster_ref = delivery
                .deliver(docker, &spec, credentials, &mut |event| {
                    report_event(reporter, &title, event)
                })
                .await?;
            context
                .cluster_refs
                .insert(self.0.name.clone(), cluster_ref.clone());
            Ok(cluster_ref)
        })
    }
}

fn report_event(reporter: &Reporter, title: &str, event: BuildEvent) {
    match event {
        BuildEvent::Step {
            number,
            total,
            instruction,
        } => reporter.progress(title, &format!("step {number}/{total}: {instruction}")),
        BuildEvent::Output(line) => reporter.progress(title, &line),
        BuildEvent::Pushing { status } => reporter.progress(title, &status),
    }
}

/// The helm release for one configured release: its values files and overrides, plus the
/// image the cluster should pull.
pub fn release_for(context: &Context, release: &ReleaseConfig) -> anyhow::Result<Release> {
    let config = &context.config;
    let chart = config.path(&release.chart);
    if !chart.join("Chart.yaml").is_file() {
        bail!(
            "chart {} of release {} has no Chart.yaml (check the chart path)",
            chart.display(),
            release.name
        );
    }
    let mut set = BTreeMap::new();
    if let Some(image) = &release.image
        && let Some(reference) = context.cluster_refs.get(&image.name)
    {
        let (repository, tag) = split_reference(reference);
        set.insert(
            format!("{}.repository", image.values_key),
            repository.to_string(),
        );
        set.insert(format!("{}.tag", image.values_key), tag.to_string());
        if let Some(delivery) = &context.delivery {
            set.insert(
                format!("{}.pullPolicy", image.values_key),
                delivery.pull_policy().to_string(),
            );
        }
    }
    if let Some(secret) = &context.pull_secret {
        set.insert("imagePullSecrets[0].name".to_string(), secret.clone());
    }
    set.extend(release.set.clone());
    Ok(Release {
        name: release.name.clone(),
        chart,
        namespace: config.namespace.clone(),
        values_files: release.values.iter().map(|v| config.path(v)).collect(),
        set,
        timeout: config.timeout,
    })
}

/// `127.0.0.1:5000/thidctl/x:dev` → (`127.0.0.1:5000/thidctl/x`, `dev`); the registry's port
/// is not a tag.
pub fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (reference, "latest"),
    }
}

/// Pods pull from a registry that wanted credentials for the push with the same credentials,
/// through a pull secret the charts' `imagePullSecrets` name.
pub struct ApplyPullSecret;

impl Step for ApplyPullSecret {
    fn title(&self) -> String {
        "registry pull secret".into()
    }

    fn run<'a>(&'a self, context: &'a mut Context, _: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let Some(Delivery::Registry { registry }) = &context.delivery else {
                return Ok("not needed: images are not pulled from a registry".to_string());
            };
            let Some(found) = &context.registry_credentials else {
                return Ok(format!(
                    "none: no credentials for {registry}, pods pull anonymously"
                ));
            };
            let namespace = &context.config.namespace;
            crate::kube::pull_secret::apply_pull_secret(
                context.cluster()?,
                namespace,
                registry,
                &found.username,
                &found.password,
            )
            .await?;
            let name = crate::kube::pull_secret::PULL_SECRET;
            context.pull_secret = Some(name.to_string());
            Ok(format!(
                "secret {name} in namespace {namespace} for {registry}"
            ))
        })
    }
}

/// How often `InstallRelease` looks at the release's pods while helm waits for them.
const POD_LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

pub struct InstallRelease(pub ReleaseConfig);

impl Step for InstallRelease {
    fn title(&self) -> String {
        format!("helm upgrade --install {}", self.0.name)
    }

    fn run<'a>(&'a self, context: &'a mut Context, _: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let release = release_for(context, &self.0)?;
            let helm = context.helm()?.clone();
            let repair = context.repair_stuck;
            // helm blocks; keep the runtime (and the spinner) free meanwhile.
            let mut install =
                tokio::task::spawn_blocking(move || helm.upgrade_install(&release, repair));
            // helm's --wait says only "not ready"; what the pods said while it waited is the
            // answer (a rollback on failure removes them before anyone could look).
            let selector = format!("app.kubernetes.io/instance={}", self.0.name);
            let mut pods_said = Vec::new();
            let installed = loop {
                tokio::select! {
                    done = &mut install => break done.context("the helm call panicked")?,
                    () = tokio::time::sleep(POD_LOOK_EVERY) => {
                        let cluster = context.cluster()?;
                        let namespace = &context.config.namespace;
                        // Kept from the last look that found any: a rollback empties the list.
                        if let Ok(problems) = crate::kube::pod_problems(cluster, namespace, &selector).await
                            && !problems.is_empty()
                        {
                            pods_said = problems;
                        }
                    }
                }
            };
            if let Err(error) = installed {
                if pods_said.is_empty() {
                    return Err(error.into());
                }
                bail!(
                    "{error}\n  the pods while helm waited: {}",
                    pods_said.join("; ")
                );
            }
            let status = context
                .helm()?
                .status(&self.0.name, &context.config.namespace)?;
            Ok(status
                .map(|s| format!("{} revision {} ({})", s.status, s.revision, s.chart))
                .unwrap_or_default())
        })
    }
}

pub struct WaitRollouts;

impl Step for WaitRollouts {
    fn title(&self) -> String {
        "wait for the deployments to be available".into()
    }

    fn run<'a>(&'a self, context: &'a mut Context, _: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let selector = context.releases_selector();
            let ready = crate::kube::wait_for_deployments(
                context.cluster()?,
                &context.config.namespace,
                &selector,
                context.config.timeout,
            )
            .await?;
            Ok(format!("{} available: {}", ready.len(), ready.join(", ")))
        })
    }
}

pub struct OpenForwards;

impl Step for OpenForwards {
    fn title(&self) -> String {
        "open port-forwards on 127.0.0.1".into()
    }

    fn run<'a>(&'a self, context: &'a mut Context, reporter: &'a Reporter) -> StepFuture<'a> {
        Box::pin(async move {
            let mut opened = Vec::new();
            for forward in context.config.forwards.clone() {
                let spec = ForwardSpec {
                    name: forward.name.clone(),
                    namespace: context.config.namespace.clone(),
                    selector: forward.selector.clone(),
                    remote_port: forward.port,
                    local_port: forward.local_port.unwrap_or(forward.port),
                };
                let open = crate::kube::forward::open(context.cluster()?, spec).await?;
                if open.moved {
                    reporter.note(&format!(
                        "  port {} was taken: {} is forwarded on {} instead",
                        forward.local_port.unwrap_or(forward.port),
                        forward.name,
                        open.local_addr
                    ));
                }
                opened.push(format!("{} http://{}", forward.name, open.local_addr));
                context.forwards.push(open);
            }
            Ok(opened.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(
            split_reference("127.0.0.1:5000/thidctl/x:dev"),
            ("127.0.0.1:5000/thidctl/x", "dev")
        );
        assert_eq!(split_reference("thidctl/x:dev"), ("thidctl/x", "dev"));
        assert_eq!(
            split_reference("127.0.0.1:5000/thidctl/x"),
            ("127.0.0.1:5000/thidctl/x", "latest")
        );
    }

    #[test]
    fn up_builds_only_images_in_use() {
        let mut config = Config::defaults(".".into());
        config.releases.retain(|r| r.name == "thidwick");
        let titles: Vec<String> = up_steps(&config).iter().map(|s| s.title()).collect();
        assert!(
            titles.contains(&"build image thidctl/thidwick-starter".to_string()),
            "{titles:?}"
        );
        assert!(!titles.iter().any(|t| t.contains("locust")), "{titles:?}");
        assert!(
            titles.contains(&"deliver image thidctl/thidctl".to_string()),
            "{titles:?}"
        );
        assert_eq!(
            titles.first().map(String::as_str),
            Some("connect to the cluster")
        );
        assert_eq!(
            titles.last().map(String::as_str),
            Some("open port-forwards on 127.0.0.1")
        );
    }
}
