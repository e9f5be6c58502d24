//! The helm binary, run through duct (never a shell): `upgrade --install`, `status`, `uninstall`.
//! Helm 3 and 4 differ in a few flags; the version is read once and the flags mapped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HelmError {
    #[error(
        "helm is not installed or not on PATH ({binary}): install Helm 3 or 4, or give --helm PATH"
    )]
    Missing { binary: String },
    #[error("`{command}` failed: {output}")]
    Failed { command: String, output: String },
    #[error(
        "release {release} in namespace {namespace} is stuck in {status}: another helm run was interrupted. \
         Fix it with `{fix}`, or run `thidctl up --repair-stuck-releases`"
    )]
    Stuck {
        release: String,
        namespace: String,
        status: String,
        fix: String,
    },
    #[error("values file {path}: {problem}")]
    Values { path: String, problem: String },
    #[error("--set override: {0}")]
    Override(String),
    #[error("cannot write the --set overrides to a temporary values file: {0}")]
    TempFile(#[source] std::io::Error),
}

/// Helm's major version decides a few flag names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelmGeneration {
    V3,
    V4,
}

#[derive(Debug, Clone)]
pub struct Helm {
    binary: PathBuf,
    pub version: String,
    pub generation: HelmGeneration,
    kube_context: Option<String>,
}

/// One `helm upgrade --install`.
#[derive(Debug, Clone)]
pub struct Release {
    pub name: String,
    pub chart: PathBuf,
    pub namespace: String,
    pub values_files: Vec<PathBuf>,
    /// Dotted keys to values, passed verbatim through a generated values file so that commas,
    /// dots, `true` or `null` inside values reach the chart as the strings the user wrote.
    pub set: BTreeMap<String, String>,
    pub timeout: Duration,
}

/// What `helm status` says of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseStatus {
    pub status: String,
    pub revision: u64,
    pub chart: String,
}

impl Helm {
    /// Finds helm and reads its version.
    pub fn locate(binary: Option<&Path>, kube_context: Option<&str>) -> Result<Helm, HelmError> {
        let binary = binary
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("helm"));
        let missing = || HelmError::Missing {
            binary: binary.display().to_string(),
        };
        let output = duct::cmd(program(&binary), ["version", "--template", "{{.Version}}"])
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|_| missing())?;
        if !output.status.success() {
            return Err(missing());
        }
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let generation = if version.starts_with("v3.") {
            HelmGeneration::V3
        } else {
            HelmGeneration::V4
        };
        Ok(Helm {
            binary,
            version,
            generation,
            kube_context: kube_context.map(String::from),
        })
    }

    /// Helm as `--dry-run` shows it when no helm binary is found: the newest generation.
    pub fn assumed(kube_context: Option<&str>) -> Helm {
        Helm {
            binary: PathBuf::from("helm"),
            version: "(not found; showing Helm 4 flags)".into(),
            generation: HelmGeneration::V4,
            kube_context: kube_context.map(String::from),
        }
    }

    /// The arguments of `helm upgrade --install` for `release`, with the overrides file if any.
    pub fn upgrade_args(&self, release: &Release, overrides: Option<&Path>) -> Vec<String> {
        let mut args = vec![
            "upgrade".to_string(),
            "--install".into(),
            release.name.clone(),
            release.chart.display().to_string(),
            "--namespace".into(),
            release.namespace.clone(),
            "--create-namespace".into(),
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", release.timeout.as_secs().max(1)),
            // Roll back to the last good revision (or remove a first install) when the new one
            // does not become ready, so a failed `up` leaves no half-installed release.
            match self.generation {
                HelmGeneration::V3 => "--atomic".into(),
                HelmGeneration::V4 => "--rollback-on-failure".into(),
            },
        ];
        for file in &release.values_files {
            args.push("--values".into());
            args.push(file.display().to_string());
        }
        if let Some(file) = overrides {
            args.push("--values".into());
            args.push(file.display().to_string());
        }
        args.extend(self.context_args());
        args
    }

    fn context_args(&self) -> Vec<String> {
        match &self.kube_context {
            Some(context) => vec!["--kube-context".into(), context.clone()],
            None => Vec::new(),
        }
    }

    /// Installs or upgrades `release`, refusing to touch one stuck in a pending state unless
    /// `repair` is set, in which case it is rolled back or removed first.
    pub fn upgrade_install(&self, release: &Release, repair: bool) -> Result<String, HelmError> {
        for file in &release.values_files {
            check_values_file(file)?;
        }
        let stuck = self
            .status(&release.name, &release.namespace)?
            .and_then(|status| {
                stuck_fix(&status, &release.name, &release.namespace).map(|fix| (status, fix))
            });
        if let Some((status, fix)) = stuck {
            if !repair {
                return Err(HelmError::Stuck {
                    release: release.name.clone(),
                    namespace: release.namespace.clone(),
                    status: status.status,
                    fix: fix.join(" "),
                });
            }
            self.run(&fix[1..])?;
        }
        let overrides = write_overrides(&release.set)?;
        let args = self.upgrade_args(release, overrides.as_ref().map(|file| file.path()));
        self.run_shown(&args, self.upgrade_command_line(release))
    }

    /// `helm upgrade --install` as a user could paste it: the overrides, which really travel in
    /// a temporary values file, appear as `--set-string`, with secret-looking values hidden.
    pub fn upgrade_command_line(&self, release: &Release) -> String {
        let mut args = self.upgrade_args(release, None);
        for (key, value) in &release.set {
            // By the last name only: `imagePullSecrets[0].name` names a Secret, it is not one.
            let lowered = crate::overrides::last_name(key).to_ascii_lowercase();
            let secret = ["password", "token", "secret", "credential"]
                .iter()
                .any(|word| lowered.contains(word));
            let shown = if secret {
                "***".to_string()
            } else {
                value.replace(',', "\\,")
            };
            args.push("--set-string".into());
            args.push(format!("{key}={shown}"));
        }
        self.command_line(&args)
    }

    /// `None` when the release does not exist. Read from `helm list`, which (unlike
    /// `helm status` in Helm 4) names the chart; pending states are asked for explicitly.
    pub fn status(
        &self,
        release: &str,
        namespace: &str,
    ) -> Result<Option<ReleaseStatus>, HelmError> {
        let mut args: Vec<String> = [
            "list",
            "--filter",
            &format!("^{}$", regex_escape(release)),
            "--namespace",
            namespace,
        ]
        .into_iter()
        .map(String::from)
        .collect();
        args.extend(
            [
                "--deployed",
                "--failed",
                "--pending",
                "--uninstalling",
                "--output",
                "json",
            ]
            .map(String::from),
        );
        args.extend(self.context_args());
        let json = self.run(&args)?;
        parse_list(&json, release).map_err(|problem| HelmError::Failed {
            command: self.command_line(&args),
            output: problem,
        })
    }

    /// Removes a release; a release that is not there is fine.
    pub fn uninstall(&self, release: &str, namespace: &str) -> Result<bool, HelmError> {
        let mut args = vec![
            "uninstall".to_string(),
            release.into(),
            "--namespace".into(),
            namespace.into(),
            "--wait".into(),
        ];
        args.extend(self.context_args());
        match self.run(&args) {
            Ok(_) => Ok(true),
            Err(HelmError::Failed { output, .. }) if output.contains("not found") => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// The command line as a user could paste it.
    pub fn command_line(&self, args: &[String]) -> String {
        std::iter::once(self.binary.display().to_string())
            .chain(args.iter().cloned())
            .map(|word| shell_quote(&word))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn run(&self, args: &[String]) -> Result<String, HelmError> {
        self.run_shown(args, self.command_line(args))
    }

    fn run_shown(&self, args: &[String], shown: String) -> Result<String, HelmError> {
        let output = duct::cmd(program(&self.binary), args)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|_| HelmError::Missing {
                binary: self.binary.display().to_string(),
            })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        Err(HelmError::Failed {
            command: shown,
            output: text.trim().replace('\n', " | "),
        })
    }
}

/// duct runs a `Path` relative to the working directory (`helm` → `./helm`); a bare name as a
/// string is looked up on PATH instead.
fn program(binary: &Path) -> std::ffi::OsString {
    binary.as_os_str().to_owned()
}

/// The helm command that unsticks a release in a pending state, if it is in one.
fn stuck_fix(status: &ReleaseStatus, release: &str, namespace: &str) -> Option<Vec<String>> {
    let words = |action: &str| -> Vec<String> {
        ["helm", action, release, "--namespace", namespace]
            .map(String::from)
            .to_vec()
    };
    match status.status.as_str() {
        "pending-install" => Some(words("uninstall")),
        "pending-upgrade" | "pending-rollback" if status.revision > 1 => Some(words("rollback")),
        "pending-upgrade" | "pending-rollback" => Some(words("uninstall")),
        _ => None,
    }
}

#[derive(Deserialize)]
struct ListEntry {
    name: String,
    status: String,
    revision: String,
    chart: String,
}

fn parse_list(json: &str, release: &str) -> Result<Option<ReleaseStatus>, String> {
    let entries: Vec<ListEntry> =
        serde_json::from_str(json).map_err(|e| format!("unreadable helm list output: {e}"))?;
    Ok(entries
        .into_iter()
        .find(|entry| entry.name == release)
        .map(|entry| ReleaseStatus {
            status: entry.status,
            revision: entry.revision.parse().unwrap_or(0),
            chart: entry.chart,
        }))
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// A values file must be a readable local YAML mapping; helm would also take a URL, which
/// thidctl refuses so that a run never depends on a remote file.
pub fn check_values_file(path: &Path) -> Result<(), HelmError> {
    let shown = path.display().to_string();
    let problem = |problem: String| HelmError::Values {
        path: shown.clone(),
        problem,
    };
    if shown.contains("://") {
        return Err(problem(
            "is a URL; download it and give the local file".into(),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot be read ({e}); check the path")))?;
    match serde_yaml::from_str::<serde_yaml::Value>(&text) {
        Ok(serde_yaml::Value::Mapping(_)) | Ok(serde_yaml::Value::Null) => Ok(()),
        Ok(_) => Err(problem("is not a YAML mapping of chart values".into())),
        Err(e) => Err(problem(format!(
            "is not valid YAML: {}",
            e.to_string().replace('\n', " ")
        ))),
    }
}

/// Writes `--set` overrides as a nested values file: `master.config.target-host=x` becomes
/// `master: {config: {target-host: "x"}}`. Every value stays a string.
fn write_overrides(
    set: &BTreeMap<String, String>,
) -> Result<Option<tempfile::NamedTempFile>, HelmError> {
    if set.is_empty() {
        return Ok(None);
    }
    let values = crate::overrides::nest(set).map_err(HelmError::Override)?;
    let text = serde_yaml::to_string(&values).expect("string maps serialise");
    let mut file = tempfile::Builder::new()
        .prefix("thidctl-values-")
        .suffix(".yaml")
        .tempfile()
        .map_err(HelmError::TempFile)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(HelmError::TempFile)?;
    Ok(Some(file))
}

fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helm(generation: HelmGeneration) -> Helm {
        Helm {
            binary: "helm".into(),
            version: "v0".into(),
            generation,
            kube_context: Some("kind-x".into()),
        }
    }

    fn release() -> Release {
        Release {
            name: "locust4thidwick".into(),
            chart: "charts/locust4thidwick".into(),
            namespace: "default".into(),
            values_files: vec!["k8s/dev/locust/values.yaml".into()],
            set: BTreeMap::new(),
            timeout: Duration::from_secs(300),
        }
    }

    #[test]
    fn upgrade_flags_follow_the_helm_generation() {
        let v3 = helm(HelmGeneration::V3).upgrade_args(&release(), None);
        assert!(v3.contains(&"--atomic".to_string()));
        let v4 = helm(HelmGeneration::V4).upgrade_args(&release(), Some(Path::new("/tmp/o.yaml")));
        assert!(v4.contains(&"--rollback-on-failure".to_string()));
        let line = helm(HelmGeneration::V4).command_line(&v4);
        assert_eq!(
            line,
            "helm upgrade --install locust4thidwick charts/locust4thidwick --namespace default --create-namespace \
             --wait --timeout 300s --rollback-on-failure --values k8s/dev/locust/values.yaml --values /tmp/o.yaml \
             --kube-context kind-x"
        );
    }

    #[test]
    fn pasteable_command_hides_secrets() {
        let mut release = release();
        release
            .set
            .insert("registry.password".into(), "hunter2".into());
        release
            .set
            .insert("master.config.target-host".into(), "http://a:8080".into());
        let line = helm(HelmGeneration::V4).upgrade_command_line(&release);
        assert!(
            line.contains("--set-string 'registry.password=***'"),
            "{line}"
        );
        assert!(
            line.contains("--set-string master.config.target-host=http://a:8080"),
            "{line}"
        );
        assert!(!line.contains("hunter2"));
    }

    #[test]
    fn overrides_nest_and_stay_verbatim() {
        let set: BTreeMap<String, String> = [
            (
                "master.config.target-host",
                "http://thidwick-thidwick-starter:8080",
            ),
            ("master.config.extra", "a,b=c"),
            ("enabled", "true"),
            ("nothing", "null"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let text = serde_yaml::to_string(&crate::overrides::nest(&set).unwrap()).unwrap();
        let back: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            back["master"]["config"]["target-host"],
            "http://thidwick-thidwick-starter:8080"
        );
        assert_eq!(back["master"]["config"]["extra"], "a,b=c");
        assert_eq!(back["enabled"], serde_yaml::Value::String("true".into()));
        assert_eq!(back["nothing"], serde_yaml::Value::String("null".into()));
    }

    #[test]
    fn stuck_releases_get_the_right_fix() {
        let status = |s: &str, revision| ReleaseStatus {
            status: s.into(),
            revision,
            chart: String::new(),
        };
        assert_eq!(stuck_fix(&status("deployed", 3), "r", "n"), None);
        assert_eq!(
            stuck_fix(&status("pending-install", 1), "r", "n").unwrap()[1],
            "uninstall"
        );
        assert_eq!(
            stuck_fix(&status("pending-upgrade", 2), "r", "n").unwrap()[1],
            "rollback"
        );
        assert_eq!(
            stuck_fix(&status("pending-upgrade", 1), "r", "n").unwrap()[1],
            "uninstall"
        );
    }

    #[test]
    fn list_json_parses() {
        let json = r#"[{"name":"thidwick","namespace":"n","revision":"2","updated":"x","status":"pending-upgrade","chart":"thidwick-starter-0.1.0","app_version":"0.1.0"}]"#;
        assert_eq!(
            parse_list(json, "thidwick").unwrap(),
            Some(ReleaseStatus {
                status: "pending-upgrade".into(),
                revision: 2,
                chart: "thidwick-starter-0.1.0".into()
            })
        );
        assert_eq!(parse_list("[]", "thidwick").unwrap(), None);
        assert_eq!(regex_escape("a.b"), "a\\.b");
    }

    #[test]
    fn values_files_must_be_local_yaml_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yaml");
        std::fs::write(&good, "a: 1\n").unwrap();
        assert!(check_values_file(&good).is_ok());
        let list = dir.path().join("list.yaml");
        std::fs::write(&list, "- a\n").unwrap();
        assert!(
            check_values_file(&list)
                .unwrap_err()
                .to_string()
                .contains("not a YAML mapping")
        );
        let broken = dir.path().join("broken.yaml");
        std::fs::write(&broken, "a: [1\n").unwrap();
        assert!(
            check_values_file(&broken)
                .unwrap_err()
                .to_string()
                .contains("not valid YAML")
        );
        let url = Path::new("https://example.invalid/values.yaml");
        assert!(
            check_values_file(url)
                .unwrap_err()
                .to_string()
                .contains("is a URL")
        );
        assert!(
            check_values_file(&dir.path().join("missing.yaml"))
                .unwrap_err()
                .to_string()
                .contains("cannot be read")
        );
    }

    #[test]
    fn quoting_for_paste() {
        assert_eq!(shell_quote("plain-word_1.2"), "plain-word_1.2");
        assert_eq!(shell_quote("two words"), "'two words'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
