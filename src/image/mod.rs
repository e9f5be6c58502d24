//! Container images: pack a build context, build it through the Docker Engine API (bollard),
//! and get the result to the cluster — pushed to a registry or loaded into kind/minikube.
//!
//! Only the classic builder is used: it works on every engine from API 1.41 (Docker 20.10) on,
//! without a BuildKit session.

mod context;
pub mod credentials;
pub mod delivery;
mod docker;
mod error;
mod events;
mod ignore;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use context::{OUTSIDE_DOCKERFILE, PackedContext, pack};
pub use delivery::Delivery;
pub use docker::Docker;
pub use error::ImageError;
pub use ignore::DockerIgnore;

/// One image to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// Repository without registry, e.g. "thidctl/thidwick-starter".
    pub name: String,
    pub tag: String,
    /// The build context directory.
    pub context: PathBuf,
    /// Absolute or relative to the working directory; packed into the context if outside it.
    pub dockerfile: PathBuf,
    /// (file on disk, path inside the context), e.g. a prebuilt binary; the mode is kept.
    pub extra_files: Vec<(PathBuf, String)>,
    pub build_args: BTreeMap<String, String>,
    /// Build with the host's network, for steps that apt-get or pip install.
    pub network_host: bool,
}

impl ImageSpec {
    /// "name:tag", the reference the build tags locally.
    pub fn local_ref(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The same image under a tag that names its content, `dev` → `dev-1a2b3c4d5e6f` for image
    /// id `sha256:1a2b3c4d5e6f…`. Pods name the pinned tag, so a rebuilt image changes the pod
    /// spec and rolls out, while an unchanged one leaves running pods alone.
    pub fn pinned(&self, image_id: &str) -> ImageSpec {
        ImageSpec {
            tag: format!("{}-{}", self.tag, short_id(image_id)),
            ..self.clone()
        }
    }
}

/// The first 12 hex digits of an image id, as `docker images` shows it.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Progress of a build or push, for the step reporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    Step {
        number: u32,
        total: u32,
        instruction: String,
    },
    Output(String),
    Pushing {
        status: String,
    },
}

/// Credentials for a registry push.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

// Debug output ends up in logs and error reports; the password must not.
impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_password() {
        let credentials = RegistryCredentials {
            username: "ci-bot".into(),
            password: "hunter2-s3cret".into(),
        };
        let shown = format!("{credentials:?} {credentials:#?}");
        assert!(shown.contains("ci-bot"), "{shown}");
        assert!(!shown.contains("hunter2-s3cret"), "{shown}");
    }

    #[test]
    fn local_ref_is_name_and_tag() {
        let spec = ImageSpec {
            name: "thidctl/thidwick-starter".into(),
            tag: "dev".into(),
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            extra_files: Vec::new(),
            build_args: BTreeMap::new(),
            network_host: false,
        };
        assert_eq!(spec.local_ref(), "thidctl/thidwick-starter:dev");
        let pinned = spec.pinned("sha256:0123456789abcdef0123");
        assert_eq!(
            pinned.local_ref(),
            "thidctl/thidwick-starter:dev-0123456789ab"
        );
        assert_eq!(pinned.context, spec.context);
    }
}
