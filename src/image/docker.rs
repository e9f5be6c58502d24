//! The Docker Engine API through bollard: connect, build, tag and push, remove.

use bollard::auth::DockerCredentials;
use bollard::errors::Error as EngineError;
use bollard::query_parameters::{
    BuildImageOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use futures_util::StreamExt;

use super::events::{BuildLog, BuildOutcome};
use super::{BuildEvent, ImageError, ImageSpec, RegistryCredentials, context};

/// Where bollard looks when DOCKER_HOST is unset (it does not export the constant).
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connected Docker engine.
#[derive(Debug, Clone)]
pub struct Docker {
    inner: bollard::Docker,
}

impl Docker {
    /// DOCKER_HOST or the default socket, API version negotiated, then a ping.
    pub async fn connect() -> Result<Docker, ImageError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        Docker::connect_to(&host).await
    }

    /// Like [`Docker::connect`] for an explicit `unix://`, `tcp://` or `http://` host.
    pub async fn connect_to(host: &str) -> Result<Docker, ImageError> {
        let unreachable = |source| ImageError::Unreachable {
            host: host.to_string(),
            source,
        };
        // Negotiation makes api_version() report what the engine speaks (1.41 for Docker 20.10).
        // bollard 0.21 sends unversioned paths, so the engine answers in its own newest dialect
        // either way; the models bollard ships read 1.41 and today's engines alike.
        let inner = bollard::Docker::connect_with_host(host)
            .map_err(unreachable)?
            .negotiate_version()
            .await
            .map_err(unreachable)?;
        inner.ping().await.map_err(unreachable)?;
        Ok(Docker { inner })
    }

    /// The API version both sides speak, e.g. "1.41".
    pub fn api_version(&self) -> String {
        self.inner.client_version().to_string()
    }

    /// The bollard client, for what this module does not wrap.
    pub fn engine(&self) -> &bollard::Docker {
        &self.inner
    }

    /// Packs the context, builds it tagged `spec.local_ref()` and returns the image id.
    pub async fn build(
        &self,
        spec: &ImageSpec,
        on_event: &mut (dyn FnMut(BuildEvent) + Send),
    ) -> Result<String, ImageError> {
        let image = spec.local_ref();
        let owned = spec.clone();
        let packed = tokio::task::spawn_blocking(move || context::pack(&owned))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))?;

        let options = BuildImageOptions {
            dockerfile: packed.dockerfile,
            t: Some(image.clone()),
            buildargs: Some(
                spec.build_args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            networkmode: spec.network_host.then(|| "host".to_string()),
            rm: true,
            // Without it a failed RUN leaves its container behind.
            forcerm: true,
            ..Default::default()
        };
        let mut stream =
            self.inner
                .build_image(options, None, Some(bollard::body_full(packed.tar.into())));

        // Read to the end even after an error: later lines may say more, and the call returns
        // only once the daemon has finished (and removed the failed step's container).
        let mut log = BuildLog::default();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => log.feed(&info).into_iter().for_each(&mut *on_event),
                // Errors mid-stream, and refusals before it (a Dockerfile parse error is an HTTP error).
                Err(EngineError::DockerStreamError { error }) => log.fail(error),
                Err(EngineError::DockerResponseServerError { message, .. }) => log.fail(message),
                Err(source) => {
                    return Err(ImageError::Engine {
                        action: format!("building {image}"),
                        source,
                    });
                }
            }
        }
        let (events, outcome) = log.finish();
        events.into_iter().for_each(&mut *on_event);
        match outcome {
            BuildOutcome::Built(Some(id)) if id.starts_with("sha256:") => Ok(id),
            // No full id in the stream (an engine without `aux`): ask for it.
            BuildOutcome::Built(_) => self.image_id(&image).await,
            BuildOutcome::Failed {
                step,
                message,
                output,
            } => Err(ImageError::BuildFailed {
                image,
                step,
                message,
                output,
            }),
        }
    }

    /// Gives the local image `source` (a reference or an id) the reference `target` too.
    pub async fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let (repository, tag) = split_reference(target);
        let tag_options = TagImageOptions {
            repo: Some(repository.to_string()),
            tag: Some(tag.to_string()),
        };
        self.inner
            .tag_image(source, Some(tag_options))
            .await
            .map_err(|error| {
                self.not_found_or(source, error, format!("tagging {source} as {target}"))
            })
    }

    /// Tags `local_ref` as `target` (registry/name:tag) and pushes `target`.
    pub async fn push(
        &self,
        local_ref: &str,
        target: &str,
        credentials: Option<RegistryCredentials>,
        on_event: &mut (dyn FnMut(BuildEvent) + Send),
    ) -> Result<(), ImageError> {
        self.tag(local_ref, target).await?;
        let (repository, tag) = split_reference(target);

        let password = credentials.as_ref().map(|c| c.password.clone());
        let credentials = credentials.map(|c| DockerCredentials {
            username: Some(c.username),
            password: Some(c.password),
            serveraddress: Some(registry_host(repository).to_string()),
            ..Default::default()
        });
        // The tag must be explicit: without it the engine pushes every tag of the repository.
        let push_options = PushImageOptions {
            tag: Some(tag.to_string()),
            platform: None,
        };
        let mut stream = self
            .inner
            .push_image(repository, Some(push_options), credentials);

        let mut failure = None;
        let mut last_status = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let ticking = info
                        .progress_detail
                        .as_ref()
                        .is_some_and(|detail| detail.current.is_some());
                    if let Some(status) = info
                        .status
                        .filter(|status| !ticking && *status != last_status)
                    {
                        last_status.clone_from(&status);
                        on_event(BuildEvent::Pushing { status });
                    }
                }
                Err(EngineError::DockerStreamError { error })
                | Err(EngineError::DockerResponseServerError { message: error, .. }) => {
                    failure.get_or_insert(error);
                }
                Err(source) => {
                    return Err(ImageError::Engine {
                        action: format!("pushing {target}"),
                        source,
                    });
                }
            }
        }
        match failure {
            Some(message) => Err(ImageError::PushFailed {
                target: target.to_string(),
                message: redact(message, password.as_deref()),
            }),
            None => Ok(()),
        }
    }

    /// Removes one reference (untags it; the image goes when its last reference does).
    /// An absent image is not an error: cleanup may run twice.
    pub async fn remove_image(&self, reference: &str) -> Result<(), ImageError> {
        match self
            .inner
            .remove_image(reference, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(EngineError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(source) => Err(ImageError::Engine {
                action: format!("removing {reference}"),
                source,
            }),
        }
    }

    async fn image_id(&self, reference: &str) -> Result<String, ImageError> {
        let inspect = self
            .inner
            .inspect_image(reference)
            .await
            .map_err(|source| {
                self.not_found_or(reference, source, format!("inspecting {reference}"))
            })?;
        inspect.id.ok_or_else(|| ImageError::NoSuchImage {
            reference: reference.to_string(),
        })
    }

    fn not_found_or(&self, reference: &str, source: EngineError, action: String) -> ImageError {
        match source {
            EngineError::DockerResponseServerError {
                status_code: 404, ..
            } => ImageError::NoSuchImage {
                reference: reference.to_string(),
            },
            source => ImageError::Engine { action, source },
        }
    }
}

/// "127.0.0.1:5000/team/app:v1" → ("127.0.0.1:5000/team/app", "v1"); no tag means "latest".
/// The colon of a registry port is not a tag separator, hence the look after the last '/'.
pub(crate) fn split_reference(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[name_start..].rfind(':') {
        Some(colon) => (
            &reference[..name_start + colon],
            &reference[name_start + colon + 1..],
        ),
        None => (reference, "latest"),
    }
}

/// The registry part of a repository, as Docker decides it: a first component with '.' or ':'
/// or "localhost" is a host; anything else lives on Docker Hub.
fn registry_host(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "https://index.docker.io/v1/",
    }
}

/// Registries sometimes echo what they were sent; the password never leaves this module.
fn redact(message: String, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() => message.replace(password, "<redacted>"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_absent_engine_names_the_socket_and_the_fix() {
        let error = Docker::connect_to("unix:///nonexistent/thidctl-docker.sock")
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("unix:///nonexistent/thidctl-docker.sock"),
            "{message}"
        );
        assert!(
            message.contains("is dockerd running? start it or set DOCKER_HOST"),
            "{message}"
        );
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            split_reference("127.0.0.1:5000/team/app:v1"),
            ("127.0.0.1:5000/team/app", "v1")
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/team/app"),
            ("127.0.0.1:5000/team/app", "latest")
        );
        assert_eq!(
            split_reference("thidctl/thidwick-starter:dev"),
            ("thidctl/thidwick-starter", "dev")
        );
        assert_eq!(split_reference("app"), ("app", "latest"));
    }

    #[test]
    fn registry_hosts_are_found_like_docker_does() {
        assert_eq!(registry_host("127.0.0.1:5000/team/app"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/app"), "localhost");
        assert_eq!(registry_host("ghcr.io/org/app"), "ghcr.io");
        assert_eq!(registry_host("thidctl/app"), "https://index.docker.io/v1/");
    }

    #[test]
    fn passwords_are_removed_from_messages() {
        assert_eq!(
            redact("bad auth for s3cret".into(), Some("s3cret")),
            "bad auth for <redacted>"
        );
        assert_eq!(redact("no creds".into(), None), "no creds");
    }
}
