//! What a detached `up` leaves behind for `status` and `down`: the releases it installed and
//! the background process holding the port-forwards. One small JSON file per context and
//! namespace under the user's state directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeployState {
    pub context: String,
    pub namespace: String,
    pub releases: Vec<String>,
    pub forwarder: Option<ForwarderState>,
    /// The images `up` delivered, by configured name (`thidctl` is what in-cluster workers run).
    #[serde(default)]
    pub images: std::collections::BTreeMap<String, ImageRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// The reference the cluster pulls.
    pub reference: String,
    pub pull_policy: String,
    /// The image pull secret pods need for this registry, when it wants credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForwarderState {
    pub pid: u32,
    pub log: PathBuf,
    pub forwards: Vec<ForwardRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForwardRecord {
    pub name: String,
    /// 127.0.0.1:PORT actually bound.
    pub local: String,
    pub selector: String,
    pub remote_port: u16,
    /// The configured local port was taken and another was chosen.
    pub moved: bool,
}

/// `$THIDCTL_STATE_DIR`, else `$XDG_STATE_HOME/thidctl`, else `~/.local/state/thidctl`.
pub fn directory() -> PathBuf {
    if let Some(dir) = std::env::var_os("THIDCTL_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("thidctl");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/state/thidctl")
}

pub fn path_for(context: &str, namespace: &str) -> PathBuf {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    directory().join(format!("{}__{}.json", clean(context), clean(namespace)))
}

pub fn load(path: &Path) -> anyhow::Result<Option<DeployState>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "state file {} is damaged ({e}); remove it and run `thidctl down`",
                path.display()
            )
        })?)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(anyhow::anyhow!(
            "cannot read state file {}: {error}",
            path.display()
        )),
    }
}

/// Written to a temporary file and renamed, so a reader never sees half a file.
pub fn save(path: &Path, state: &DeployState) -> anyhow::Result<()> {
    let directory = path.parent().expect("state paths have a directory");
    std::fs::create_dir_all(directory).map_err(|e| {
        anyhow::anyhow!("cannot create state directory {}: {e}", directory.display())
    })?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(state)?)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

pub fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(anyhow::anyhow!(
            "cannot remove state file {}: {error}",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// Whether a process with this pid is alive (signal 0 probes without touching it).
pub fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !stat.contains(") Z "))
            .unwrap_or(false)
}

/// The kube context by name, read from the kubeconfig without contacting the cluster.
pub fn resolve_context(config: &crate::config::Config) -> anyhow::Result<String> {
    if let Some(context) = &config.context {
        return Ok(context.clone());
    }
    let kubeconfig = ::kube::config::Kubeconfig::read().map_err(|e| {
        anyhow::anyhow!("cannot read the kubeconfig ({e}); set KUBECONFIG or --context")
    })?;
    kubeconfig.current_context.ok_or_else(|| {
        anyhow::anyhow!("the kubeconfig has no current context; pass --context NAME")
    })
}

/// `http://127.0.0.1:PORT` of the forward named `name` that a detached `up` holds for this
/// context and namespace, if one is recorded.
pub fn forwarded_url(context: Option<&str>, namespace: &str, name: &str) -> Option<String> {
    let context = match context {
        Some(context) => context.to_string(),
        None => ::kube::config::Kubeconfig::read().ok()?.current_context?,
    };
    let deploy = load(&path_for(&context, namespace)).ok()??;
    let forward = deploy
        .forwarder?
        .forwards
        .into_iter()
        .find(|f| f.name == name)?;
    Some(format!("http://{}", forward.local))
}

/// Stops the background forwarder recorded in the state file, if one runs: SIGTERM, then
/// SIGKILL if it lingers. Returns its pid.
pub fn stop_forwarder(path: &Path) -> anyhow::Result<Option<u32>> {
    let Some(forwarder) = load(path)?.and_then(|state| state.forwarder) else {
        return Ok(None);
    };
    let pid = forwarder.pid;
    if pid == 0 || !process_alive(pid) {
        return Ok(None);
    }
    let target =
        libc::pid_t::try_from(pid).map_err(|_| anyhow::anyhow!("pid {pid} out of range"))?;
    // SAFETY: kill(2) only sends a signal; no memory is shared.
    unsafe { libc::kill(target, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while process_alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if process_alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(target, libc::SIGKILL) };
    }
    Ok(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clean_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let state = DeployState {
            context: "kind-x".into(),
            namespace: "default".into(),
            releases: vec!["thidwick".into()],
            forwarder: Some(ForwarderState {
                pid: 42,
                log: "/tmp/log".into(),
                forwards: vec![ForwardRecord {
                    name: "locust".into(),
                    local: "127.0.0.1:8089".into(),
                    selector: "app=x".into(),
                    remote_port: 8089,
                    moved: false,
                }],
            }),
            images: std::collections::BTreeMap::from([(
                "thidctl".to_string(),
                ImageRecord {
                    reference: "127.0.0.1:5000/thidctl/thidctl:dev".into(),
                    pull_policy: "Always".into(),
                    pull_secret: Some("thidctl-registry".into()),
                },
            )]),
        };
        assert_eq!(load(&path).unwrap(), None);
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), Some(state));
        remove(&path).unwrap();
        remove(&path).unwrap();
        let name = path_for("gke_p/z:c", "ns")
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(name, "gke_p_z_c__ns.json");
        assert!(process_alive(std::process::id()));
    }
}
