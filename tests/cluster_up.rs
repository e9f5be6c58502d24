//! `thidctl up`, `status` and `down` end to end on the real test cluster (scripts/testbed):
//! from nothing to forwards that answer, a clean second `up`, and a `down` that leaves nothing.
//! Plus the two ways `up` must fail cleanly: an image that does not build and a rollout that
//! never becomes ready; a rebuilt image that must roll out while an unchanged one must not; and a
//! registry that wants a password, for the push and for the pods' pull.
//! Requests go only to 127.0.0.1 (forwards, registry, API server).

mod cluster_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cluster_support::{cluster_or_skip, forward_in, http_get, text, unique};
use serde_json::Value;

fn thidctl(namespace: &str, state_dir: &Path, args: &[&str]) -> Output {
    cluster_support::thidctl_command(namespace, state_dir)
        .args(args)
        .output()
        .expect("thidctl runs")
}

fn helm_releases(namespace: &str) -> Vec<Value> {
    let output = Command::new("helm")
        .args([
            "list",
            "--all",
            "--namespace",
            namespace,
            "--output",
            "json",
        ])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        // Helm 4 dropped --all; its default list already shows every state we care about.
        _ => Command::new("helm")
            .args([
                "list",
                "--deployed",
                "--failed",
                "--pending",
                "--namespace",
                namespace,
                "--output",
                "json",
            ])
            .output()
            .expect("helm runs"),
    };
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

/// One test's own namespace and state directory, brought down (releases, forwards, pull
/// secret, namespace) when the test ends, also when an assertion failed half-way.
struct Stage {
    namespace: String,
    state: tempfile::TempDir,
}

impl Stage {
    fn new(prefix: &str) -> Stage {
        Stage {
            namespace: format!("{prefix}-{}", unique()),
            state: tempfile::tempdir().unwrap(),
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = thidctl(
            &self.namespace,
            self.state.path(),
            &["down", "--delete-namespace"],
        );
    }
}

fn forwarders_for(state_dir: &Path) -> usize {
    let needle = state_dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains("forward-daemon") && cmdline.contains(&needle))
        .count()
}

#[test]
fn up_twice_then_down_leaves_nothing() {
    if !cluster_or_skip() {
        return;
    }
    let stage = Stage::new("thidctl-e2e");
    let (namespace, state) = (&stage.namespace, &stage.state);

    let first = thidctl(
        namespace,
        state.path(),
        &["up", "--detach", "--output", "json"],
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let report: Value =
        serde_json::from_slice(&first.stdout).expect("up --output json prints JSON");
    assert_eq!(report["passed"], true);

    let service = forward_in(&report, "thidwick");
    assert_eq!(
        http_get(service, "/hello").unwrap(),
        (200, "Hello, my name is starter.".to_string())
    );
    let locust = forward_in(&report, "locust");
    let (status, page) = http_get(locust, "/").unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("http://thidwick-thidwick-starter:8080"),
        "the Locust UI is not aimed at the service"
    );
    let (status, stats) = http_get(locust, "/stats/requests").unwrap();
    assert_eq!(status, 200);
    serde_json::from_str::<Value>(&stats).expect("Locust answers /stats/requests with JSON");

    // The image's Locust (Debian's 2.12) gives the 90th and 99th in its JSON; the report has
    // every percentile, from its CSV download.
    let load = thidctl(
        namespace,
        state.path(),
        &[
            "load",
            "--engine",
            "locust",
            "--users",
            "5",
            "--spawn-rate",
            "5",
            "--run-time",
            "8s",
            "--output",
            "json",
        ],
    );
    assert_eq!(load.status.code(), Some(0), "{}", text(&load));
    let result: Value = serde_json::from_slice(&load.stdout).expect("load prints JSON");
    let percentiles = &result["aggregated"]["percentiles_ms"];
    assert!(
        result["aggregated"]["requests"].as_u64() > Some(0)
            && ["50", "66", "95", "99.9", "100"]
                .iter()
                .all(|label| percentiles[label].is_number()),
        "{percentiles}"
    );
    assert!(
        http_get(forward_in(&report, "prometheus"), "/-/ready")
            .unwrap()
            .0
            == 200
    );

    let second = thidctl(
        namespace,
        state.path(),
        &["up", "--detach", "--output", "json"],
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let again: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        http_get(forward_in(&again, "thidwick"), "/hello")
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        forwarders_for(state.path()),
        1,
        "the second up must replace the first forwarder, not add one"
    );
    let releases = helm_releases(namespace);
    assert_eq!(releases.len(), 3, "{releases:?}");
    assert!(
        releases
            .iter()
            .all(|r| r["revision"] == "2" && r["status"] == "deployed"),
        "{releases:?}"
    );

    let status = thidctl(namespace, state.path(), &["status", "--output", "json"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let health: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(health["healthy"], true, "{health}");

    let down = thidctl(namespace, state.path(), &["down", "--delete-namespace"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert!(helm_releases(namespace).is_empty());
    assert_eq!(
        forwarders_for(state.path()),
        0,
        "down must stop the forwarder"
    );
    assert!(
        http_get(forward_in(&again, "thidwick"), "/hello").is_err(),
        "the forward still answers after down"
    );
    assert_eq!(
        std::fs::read_dir(state.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json"))
            .count(),
        0
    );

    let twice = thidctl(namespace, state.path(), &["down"]);
    assert_eq!(
        twice.status.code(),
        Some(0),
        "down twice is fine: {}",
        text(&twice)
    );
}

/// The stand-in's Dockerfile: `extra` instructions, then it starts with `args`.
fn starter_dockerfile(extra: &str, args: &[&str]) -> String {
    let entrypoint: Vec<String> = std::iter::once("/usr/local/bin/thidwick-starter")
        .chain(args.iter().copied())
        .map(|word| format!("{word:?}"))
        .collect();
    format!(
        "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nCOPY thidwick-starter /usr/local/bin/thidwick-starter\n\
         {extra}USER 10001\nENTRYPOINT [{}]\n",
        entrypoint.join(", ")
    )
}

/// A project holding only the stand-in service, with its Dockerfile replaced by `dockerfile`.
fn starter_only_project(dockerfile: &str) -> (tempfile::TempDir, PathBuf) {
    let project = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let build = project.path().join("build");
    std::fs::create_dir(&build).unwrap();
    std::fs::write(build.join("Dockerfile"), dockerfile).unwrap();
    let config = project.path().join("thidctl.yaml");
    std::fs::write(
        &config,
        format!(
            "images:\n  - name: thidwick-starter\n    repository: thidctl-test/e2e-starter\n    dockerfile: build/Dockerfile\n    \
             context: build\n    binary: thidwick-starter\n\
             releases:\n  - name: thidwick\n    chart: {root}/charts/thidwick-starter\n    values: [{root}/k8s/dev/thidwick-starter/thidwick-starter-values-local.yaml]\n    \
             image: {{name: thidwick-starter, values_key: image}}\n\
             forwards: []\n",
            root = root.display()
        ),
    )
    .unwrap();
    (project, config)
}

fn thidctl_with_config(namespace: &str, state_dir: &Path, config: &Path, args: &[&str]) -> Output {
    thidctl_with_env(
        namespace,
        state_dir,
        config,
        args,
        &[("THIDCTL_REGISTRY", cluster_support::REGISTRY)],
    )
}

/// thidctl on a project's config with `env` set, and no registry credentials but those given
/// (an empty Docker config, none in the environment).
fn thidctl_with_env(
    namespace: &str,
    state_dir: &Path,
    config: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let docker_config = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_thidctl"))
        .args(args)
        .env("THIDCTL_NAMESPACE", namespace)
        .env("THIDCTL_STATE_DIR", state_dir)
        .env("THIDCTL_BASE_IMAGE", cluster_support::DEBIAN)
        .env("THIDCTL_CONFIG", config)
        .env("DOCKER_CONFIG", docker_config.path())
        .env_remove("THIDCTL_PROJECT_DIR")
        .env_remove("THIDCTL_REGISTRY_USERNAME")
        .env_remove("THIDCTL_REGISTRY_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .expect("thidctl runs")
}

#[test]
fn a_failing_build_stops_up_before_anything_is_installed() {
    if !cluster_or_skip() {
        return;
    }
    let stage = Stage::new("thidctl-e2e-build");
    let (namespace, state) = (&stage.namespace, &stage.state);
    let (_project, config) =
        starter_only_project("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo compiling && false\n");
    let output = thidctl_with_config(namespace, state.path(), &config, &["up"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert!(
        all.contains("✗ build image thidctl-test/e2e-starter"),
        "{all}"
    );
    assert!(
        all.contains("RUN echo compiling && false"),
        "the failing instruction is named: {all}"
    );
    assert!(
        all.contains("compiling"),
        "its last output lines are shown: {all}"
    );
    assert!(
        !all.contains("helm upgrade --install thidwick:"),
        "nothing was installed: {all}"
    );
    assert!(helm_releases(namespace).is_empty());
}

#[test]
fn a_rollout_that_never_gets_ready_is_rolled_back() {
    if !cluster_or_skip() {
        return;
    }
    let stage = Stage::new("thidctl-e2e-crash");
    let (namespace, state) = (&stage.namespace, &stage.state);
    // The service refuses the address its image gives it and exits: the pod crash-loops. (The
    // chart's schema would refuse the same address as a value before anything started.)
    let (_project, config) =
        starter_only_project(&starter_dockerfile("", &["--listen", "not-an-address"]));
    let output = thidctl_with_config(
        namespace,
        state.path(),
        &config,
        &["up", "--timeout", "45s"],
    );
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert!(all.contains("✗ helm upgrade --install thidwick"), "{all}");
    assert!(
        all.contains("helm upgrade --install thidwick"),
        "the helm command is shown: {all}"
    );
    let said = all
        .split("the pods while helm waited:")
        .nth(1)
        .unwrap_or_else(|| panic!("what the pods said is missing: {all}"));
    assert!(
        said.contains("CrashLoopBackOff") || said.contains("exit 2"),
        "the crash is named: {all}"
    );
    assert!(
        helm_releases(namespace).is_empty(),
        "the failed first install was rolled back"
    );
    let down = thidctl_with_config(
        namespace,
        state.path(),
        &config,
        &["down", "--delete-namespace"],
    );
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
}

/// The deployment's image and the names of its pods that are not on their way out.
fn starter_rollout(namespace: &str) -> (String, Vec<String>) {
    let get = |args: &[&str]| -> Value {
        let output = Command::new("kubectl")
            .args(args)
            .args(["--namespace", namespace, "--output", "json"])
            .output()
            .expect("kubectl runs");
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice(&output.stdout).expect("kubectl prints JSON")
    };
    let deployment = get(&["get", "deployment/thidwick-thidwick-starter"]);
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pods = get(&["get", "pods", "--selector", "app=thidwick-starter"]);
    let names = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    (image, names)
}

#[test]
fn a_rebuilt_image_rolls_out_and_an_unchanged_one_leaves_pods_alone() {
    if !cluster_or_skip() {
        return;
    }
    let stage = Stage::new("thidctl-e2e-rebuild");
    let (namespace, state) = (&stage.namespace, &stage.state);
    let dockerfile =
        |revision: u32| starter_dockerfile(&format!("ENV THIDCTL_E2E_REVISION={revision}\n"), &[]);
    let (project, config) = starter_only_project(&dockerfile(1));
    let up = || {
        let output = thidctl_with_config(
            namespace,
            state.path(),
            &config,
            &["up", "--detach", "--output", "json"],
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        starter_rollout(namespace)
    };

    let (first_image, first_pods) = up();
    let (repository, tag) = first_image.rsplit_once(':').unwrap();
    assert!(
        repository.ends_with("thidctl-test/e2e-starter")
            && tag.strip_prefix("dev-").is_some_and(|id| id.len() == 12),
        "pods pull a tag that names the image's content: {first_image}"
    );
    assert!(!first_pods.is_empty());

    let unchanged = up();
    assert_eq!(
        unchanged,
        (first_image.clone(), first_pods.clone()),
        "an unchanged image must not restart the service"
    );

    std::fs::write(project.path().join("build/Dockerfile"), dockerfile(2)).unwrap();
    let (rebuilt_image, rebuilt_pods) = up();
    assert_ne!(
        rebuilt_image, first_image,
        "the rebuilt image is not the one deployed"
    );
    assert!(
        !rebuilt_pods.is_empty() && !rebuilt_pods.iter().any(|pod| first_pods.contains(pod)),
        "the rebuilt image did not roll out: {first_pods:?} → {rebuilt_pods:?}"
    );
}

/// A registry on 127.0.0.1 that wants a password: the testbed's `docker-registry` with an
/// htpasswd file, on a free port, killed with its storage on drop.
struct PasswordRegistry {
    child: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

const REGISTRY_USER: &str = "thidctl-e2e";
const REGISTRY_PASSWORD: &str = "thidctl-e2e-s3cret";
/// bcrypt of REGISTRY_PASSWORD (the only hash docker-registry's htpasswd accepts).
const REGISTRY_HTPASSWD: &str =
    "thidctl-e2e:$2b$05$Us115vDlepWp553wU.o1ceTfZitYQkTxeAe7ddAA1v566ErhdNjyK";

impl PasswordRegistry {
    fn start() -> PasswordRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        std::fs::write(
            dir.path().join("htpasswd"),
            format!("{REGISTRY_HTPASSWD}\n"),
        )
        .unwrap();
        let config = dir.path().join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error, accesslog: {{disabled: true}}}}\n\
                 storage: {{filesystem: {{rootdirectory: {root}/data}}}}\n\
                 http: {{addr: \"{addr}\"}}\n\
                 auth: {{htpasswd: {{realm: thidctl-e2e, path: {root}/htpasswd}}}}\n",
                root = dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry (installed by scripts/testbed) runs");
        let registry = PasswordRegistry {
            child,
            addr,
            _dir: dir,
        };
        let socket = registry.addr.parse().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !matches!(http_get(socket, "/v2/"), Ok((401, _))) {
            assert!(
                std::time::Instant::now() < deadline,
                "the password registry did not start on {}",
                registry.addr
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        registry
    }
}

impl Drop for PasswordRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_registry_that_wants_a_password_gets_it_for_the_push_and_the_pull() {
    if !cluster_or_skip() {
        return;
    }
    let registry = PasswordRegistry::start();
    let stage = Stage::new("thidctl-e2e-auth");
    let (namespace, state) = (&stage.namespace, &stage.state);
    let (_project, config) = starter_only_project(&starter_dockerfile("", &[]));
    let up = |env: &[(&str, &str)]| {
        let mut all = vec![("THIDCTL_REGISTRY", registry.addr.as_str())];
        all.extend_from_slice(env);
        thidctl_with_env(namespace, state.path(), &config, &["up", "--detach"], &all)
    };

    let denied = up(&[]);
    let said = text(&denied);
    assert_eq!(denied.status.code(), Some(2), "{said}");
    assert!(
        said.contains("THIDCTL_REGISTRY_USERNAME"),
        "the fix is named: {said}"
    );
    assert!(
        helm_releases(namespace).is_empty(),
        "nothing was installed: {said}"
    );

    let allowed = up(&[
        ("THIDCTL_REGISTRY_USERNAME", REGISTRY_USER),
        ("THIDCTL_REGISTRY_PASSWORD", REGISTRY_PASSWORD),
    ]);
    let said = text(&allowed);
    assert_eq!(allowed.status.code(), Some(0), "{said}");
    assert!(
        !said.contains(REGISTRY_PASSWORD),
        "the password was printed: {said}"
    );
    let kubectl_json = |args: &[&str]| -> Value {
        let output = Command::new("kubectl")
            .args(args)
            .args(["--namespace", namespace, "--output", "json"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let pod_spec =
        kubectl_json(&["get", "deployment/thidwick-thidwick-starter"])["spec"]["template"]["spec"]
            .clone();
    assert_eq!(
        pod_spec["imagePullSecrets"][0]["name"], "thidctl-registry",
        "{pod_spec}"
    );
    let image = pod_spec["containers"][0]["image"]
        .as_str()
        .unwrap_or_default();
    assert!(image.starts_with(&format!("{}/", registry.addr)), "{image}");
    let secret = kubectl_json(&["get", "secret/thidctl-registry"]);
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");

    let down = thidctl_with_env(namespace, state.path(), &config, &["down"], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    let gone = Command::new("kubectl")
        .args(["get", "secret/thidctl-registry", "--namespace", namespace])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "down left the pull secret behind");
}
