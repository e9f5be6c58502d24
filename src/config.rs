//! What `up`, `down` and `status` act on: namespace, images, releases, forwards. Built-in
//! defaults are the runbook's; an optional `thidctl.yaml` replaces any of them, and flags (or
//! their environment variables) win over both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::units::parse_duration;

pub const DEFAULT_FILE: &str = "thidctl.yaml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// The whole configuration after defaults, file and flags are merged.
#[derive(Debug, Clone)]
pub struct Config {
    /// Paths in the configuration are relative to this directory.
    pub project_dir: PathBuf,
    pub namespace: String,
    /// Kube context; `None` is the current one.
    pub context: Option<String>,
    /// Where images are pushed for the cluster to pull (e.g. 127.0.0.1:5000).
    pub registry: Option<String>,
    /// auto, registry, kind, minikube or docker-desktop.
    pub delivery: String,
    pub base_image: String,
    /// Builds that install packages need the host's network.
    pub build_network_host: bool,
    pub tag: String,
    pub timeout: Duration,
    pub helm: Option<PathBuf>,
    pub images: Vec<ImageConfig>,
    pub releases: Vec<ReleaseConfig>,
    pub forwards: Vec<ForwardConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Key that releases refer to.
    pub name: String,
    /// Repository without registry, e.g. thidctl/thidwick-starter.
    pub repository: String,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    /// A binary shipped beside thidctl that the image copies in (put at the context root).
    #[serde(default)]
    pub binary: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    pub name: String,
    pub chart: PathBuf,
    #[serde(default)]
    pub values: Vec<PathBuf>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// The built image this release runs, and the values key under which the chart takes
    /// `repository`, `tag` and `pullPolicy`.
    #[serde(default)]
    pub image: Option<ReleaseImage>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReleaseImage {
    pub name: String,
    pub values_key: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    pub name: String,
    pub selector: String,
    pub port: u16,
    /// Local port on 127.0.0.1; the pod's port by default.
    #[serde(default)]
    pub local_port: Option<u16>,
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    namespace: Option<String>,
    context: Option<String>,
    registry: Option<String>,
    delivery: Option<String>,
    base_image: Option<String>,
    build_network_host: Option<bool>,
    tag: Option<String>,
    timeout: Option<String>,
    helm: Option<PathBuf>,
    images: Option<Vec<ImageConfig>>,
    releases: Option<Vec<ReleaseConfig>>,
    forwards: Option<Vec<ForwardConfig>>,
}

/// What the command line (flags and their environment variables) says; `None` defers to the
/// file, then to the defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Config file [default: ./thidctl.yaml when present].
    #[arg(long, env = "THIDCTL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kubernetes namespace for every release [default: default].
    #[arg(long, short = 'n', env = "THIDCTL_NAMESPACE")]
    pub namespace: Option<String>,
    /// Kube context [default: the current one].
    #[arg(long, env = "THIDCTL_CONTEXT")]
    pub context: Option<String>,
    /// Registry the cluster pulls built images from, e.g. 127.0.0.1:5000.
    #[arg(long, env = "THIDCTL_REGISTRY")]
    pub registry: Option<String>,
    /// How images reach the cluster: auto (from the context), registry, kind, minikube, docker-desktop.
    #[arg(long, env = "THIDCTL_DELIVERY")]
    pub delivery: Option<String>,
    /// Base image the Dockerfiles build FROM (build argument BASE_IMAGE).
    #[arg(long, env = "THIDCTL_BASE_IMAGE")]
    pub base_image: Option<String>,
    /// Tag of the built images [default: dev].
    #[arg(long, env = "THIDCTL_TAG")]
    pub tag: Option<String>,
    /// Longest wait for a release or rollout, e.g. 5m.
    #[arg(long, env = "THIDCTL_TIMEOUT", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The helm binary [default: helm on PATH].
    #[arg(long, env = "THIDCTL_HELM")]
    pub helm: Option<PathBuf>,
    /// Directory the config's relative paths start from [default: the config file's, or .].
    #[arg(long, env = "THIDCTL_PROJECT_DIR")]
    pub project_dir: Option<PathBuf>,
    /// Extra chart values for one release: RELEASE:KEY=VALUE (repeatable), passed verbatim.
    #[arg(long = "set", value_name = "RELEASE:KEY=VALUE")]
    pub set: Vec<String>,
}

impl Config {
    /// The runbook as built in: the stand-in service, Locust and monitoring.
    pub fn defaults(project_dir: PathBuf) -> Config {
        let image = |name: &str,
                     repository: &str,
                     dockerfile: &str,
                     context: &str,
                     binary: Option<&str>| ImageConfig {
            name: name.into(),
            repository: repository.into(),
            dockerfile: dockerfile.into(),
            context: context.into(),
            binary: binary.map(String::from),
        };
        let release =
            |name: &str, chart: &str, values: &str, image: &str, key: &str| ReleaseConfig {
                name: name.into(),
                chart: chart.into(),
                values: vec![values.into()],
                set: BTreeMap::new(),
                image: Some(ReleaseImage {
                    name: image.into(),
                    values_key: key.into(),
                }),
            };
        let mut locust = release(
            "locust4thidwick",
            "charts/locust4thidwick",
            "k8s/dev/locust/locust4thidwick-values-local.yaml",
            "locust",
            "image",
        );
        // The runbook's own override, exactly as it typed it.
        locust.set.insert(
            "master.config.target-host".into(),
            "http://thidwick-thidwick-starter:8080".into(),
        );
        let forward = |name: &str, selector: &str, port: u16| ForwardConfig {
            name: name.into(),
            selector: selector.into(),
            port,
            local_port: None,
        };
        Config {
            project_dir,
            namespace: "default".into(),
            context: None,
            registry: None,
            delivery: "auto".into(),
            base_image: "debian:bookworm-slim".into(),
            build_network_host: true,
            tag: "dev".into(),
            timeout: Duration::from_secs(300),
            helm: None,
            images: vec![
                image(
                    "thidwick-starter",
                    "thidctl/thidwick-starter",
                    "k8s/dev/starter/Dockerfile",
                    "k8s/dev/starter",
                    Some("thidwick-starter"),
                ),
                image("locust", "thidctl/locust", "Dockerfile.locust", ".", None),
                image(
                    "prometheus",
                    "thidctl/prometheus",
                    "k8s/dev/prometheus/Dockerfile",
                    "k8s/dev/prometheus",
                    None,
                ),
                // No release: `load --in-cluster` runs it as worker pods.
                image(
                    "thidctl",
                    "thidctl/thidctl",
                    "k8s/dev/thidctl/Dockerfile",
                    "k8s/dev/thidctl",
                    Some("thidctl"),
                ),
            ],
            releases: vec![
                release(
                    "thidwick",
                    "charts/thidwick-starter",
                    "k8s/dev/thidwick-starter/thidwick-starter-values-local.yaml",
                    "thidwick-starter",
                    "image",
                ),
                locust,
                release(
                    "monitoring",
                    "charts/monitoring",
                    "k8s/dev/monitoring/monitoring-values-local.yaml",
                    "prometheus",
                    "prometheus.image",
                ),
            ],
            forwards: vec![
                forward(
                    "locust",
                    "app=locust4thidwick-locust,component=master",
                    8089,
                ),
                forward(
                    "prometheus",
                    "app.kubernetes.io/instance=monitoring,app.kubernetes.io/component=prometheus",
                    9090,
                ),
                forward("thidwick", "app=thidwick-starter,project=thidwick", 8080),
            ],
        }
    }

    /// Defaults, then the file (given, or ./thidctl.yaml if present), then the flags.
    pub fn load(args: &ConfigArgs) -> Result<Config, ConfigError> {
        let file_path = match &args.config {
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|path| path.is_file()),
        };
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => ConfigFile::default(),
        };
        let project_dir = args.project_dir.clone().unwrap_or_else(|| {
            file_path
                .as_deref()
                .and_then(Path::parent)
                .filter(|dir| !dir.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
        });
        let shown = file_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(flags)".into());
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let mut config = Config::defaults(project_dir);
        macro_rules! layer {
            ($field:ident) => {
                if let Some(value) = file.$field {
                    config.$field = value;
                }
            };
        }
        layer!(namespace);
        layer!(delivery);
        layer!(base_image);
        layer!(build_network_host);
        layer!(tag);
        layer!(images);
        layer!(releases);
        layer!(forwards);
        config.context = file.context;
        config.registry = file.registry;
        config.helm = file.helm;
        if let Some(timeout) = &file.timeout {
            config.timeout =
                parse_duration(timeout).map_err(|e| invalid(format!("timeout: {e}")))?;
        }

        if let Some(namespace) = &args.namespace {
            config.namespace = namespace.clone();
        }
        config.context = args.context.clone().or(config.context);
        config.registry = args.registry.clone().or(config.registry);
        config.helm = args.helm.clone().or(config.helm);
        if let Some(delivery) = &args.delivery {
            config.delivery = delivery.clone();
        }
        if let Some(base) = &args.base_image {
            config.base_image = base.clone();
        }
        if let Some(tag) = &args.tag {
            config.tag = tag.clone();
        }
        if let Some(timeout) = args.timeout {
            config.timeout = timeout;
        }
        for entry in &args.set {
            let (release, key, value) =
                parse_set(entry).map_err(|message| ConfigError::Invalid {
                    path: "--set".into(),
                    message,
                })?;
            let Some(target) = config.releases.iter_mut().find(|r| r.name == release) else {
                let known: Vec<&str> = config.releases.iter().map(|r| r.name.as_str()).collect();
                return Err(ConfigError::Invalid {
                    path: "--set".into(),
                    message: format!(
                        "no release named {release:?} (releases: {})",
                        known.join(", ")
                    ),
                });
            };
            target.set.insert(key, value);
        }
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if !is_dns_label(&self.namespace) {
            return Err(format!(
                "namespace {:?} is not a valid Kubernetes name (lowercase letters, digits, '-')",
                self.namespace
            ));
        }
        if !["auto", "registry", "kind", "minikube", "docker-desktop"]
            .contains(&self.delivery.as_str())
        {
            return Err(format!(
                "delivery {:?} is unknown; use auto, registry, kind, minikube or docker-desktop",
                self.delivery
            ));
        }
        for release in &self.releases {
            for key in release.set.keys() {
                crate::overrides::parse_key(key)
                    .map_err(|problem| format!("release {}: {problem}", release.name))?;
            }
            if let Some(image) = &release.image
                && !self.images.iter().any(|i| i.name == image.name)
            {
                return Err(format!(
                    "release {} uses image {:?}, which is not among the images",
                    release.name, image.name
                ));
            }
        }
        Ok(())
    }

    /// A path from the configuration, resolved against the project directory.
    pub fn path(&self, relative: &Path) -> PathBuf {
        if relative.is_absolute() {
            relative.to_path_buf()
        } else {
            self.project_dir.join(relative)
        }
    }

    pub fn image(&self, name: &str) -> Option<&ImageConfig> {
        self.images.iter().find(|image| image.name == name)
    }
}

fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    serde_yaml::from_str::<Option<ConfigFile>>(&text)
        .map(Option::unwrap_or_default)
        .map_err(|e| ConfigError::Invalid {
            path: shown,
            message: e.to_string().replace('\n', " "),
        })
}

/// `RELEASE:KEY=VALUE` → its parts.
fn parse_set(entry: &str) -> Result<(String, String, String), String> {
    let problem = || {
        format!(
            "{entry:?} is not RELEASE:KEY=VALUE, e.g. locust4thidwick:master.config.target-host=http://x:8080"
        )
    };
    let (release, assignment) = entry.split_once(':').ok_or_else(problem)?;
    let (key, value) = assignment.split_once('=').ok_or_else(problem)?;
    if release.is_empty() || key.is_empty() {
        return Err(problem());
    }
    crate::overrides::parse_key(key)?;
    Ok((release.into(), key.into(), value.into()))
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_runbook() {
        let config = Config::load(&ConfigArgs::default()).unwrap();
        assert_eq!(config.namespace, "default");
        let locust = config
            .releases
            .iter()
            .find(|r| r.name == "locust4thidwick")
            .unwrap();
        assert_eq!(
            locust.set["master.config.target-host"],
            "http://thidwick-thidwick-starter:8080"
        );
        assert_eq!(
            config.forwards[0].selector,
            "app=locust4thidwick-locust,component=master"
        );
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("thidctl.yaml");
        std::fs::write(
            &file,
            "namespace: from-file\ntag: filetag\nregistry: 127.0.0.1:5000\ntimeout: 2m\n",
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(file.clone()),
            namespace: Some("from-flag".into()),
            set: vec!["thidwick:capacity.workTime=10ms".into()],
            ..Default::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.namespace, "from-flag");
        assert_eq!(config.tag, "filetag");
        assert_eq!(config.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(config.timeout, Duration::from_secs(120));
        assert_eq!(config.project_dir, dir.path());
        assert_eq!(config.releases[0].set["capacity.workTime"], "10ms");
    }

    #[test]
    fn bad_configs_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("namespace: Bad_Name\n", "not a valid Kubernetes name"),
            ("delivery: teleport\n", "delivery"),
            ("nmespace: x\n", "unknown field"),
            ("timeout: 5x\n", "unknown unit"),
            ("images: []\n", "not among the images"),
            ("namespace: [\n", "not valid"),
        ];
        for (text, expected) in cases {
            let file = dir.path().join("c.yaml");
            std::fs::write(&file, text).unwrap();
            let error = Config::load(&ConfigArgs {
                config: Some(file),
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let bad_set = ConfigArgs {
            set: vec!["nosuch:a=b".into()],
            ..Default::default()
        };
        assert!(
            Config::load(&bad_set)
                .unwrap_err()
                .to_string()
                .contains("no release named")
        );
        let malformed = ConfigArgs {
            set: vec!["thidwick=a".into()],
            ..Default::default()
        };
        assert!(
            Config::load(&malformed)
                .unwrap_err()
                .to_string()
                .contains("RELEASE:KEY=VALUE")
        );
    }

    #[test]
    fn the_documented_template_is_the_defaults() {
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/thidctl.yaml");
        let args = ConfigArgs {
            config: Some(template.clone()),
            ..Default::default()
        };
        let from_file = Config::load(&args).unwrap();
        let defaults = Config::defaults(template.parent().unwrap().to_path_buf());
        assert_eq!(from_file.images, defaults.images);
        assert_eq!(from_file.releases, defaults.releases);
        assert_eq!(from_file.forwards, defaults.forwards);
        assert_eq!(
            (from_file.namespace, from_file.tag, from_file.timeout),
            (defaults.namespace, defaults.tag, defaults.timeout)
        );
    }

    #[test]
    fn set_keeps_values_verbatim() {
        assert_eq!(
            parse_set("locust4thidwick:master.config.target-host=http://a:8080/x?y=1,2").unwrap(),
            (
                "locust4thidwick".into(),
                "master.config.target-host".into(),
                "http://a:8080/x?y=1,2".into()
            )
        );
    }
}
