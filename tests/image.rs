//! `thidctl::image` against the real Docker engine and the local registry at 127.0.0.1:5000.
//!
//! Without Docker (or, for the Debian-based builds, without the registry's Debian base) a
//! developer's run prints "skipped: …"; with CI set the same absence fails the test, so CI
//! never passes by skipping. Every image and tag made here is unique to the run and removed.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::support;
use support::require;
use thidctl::image::{BuildEvent, Delivery, Docker, ImageError, ImageSpec};

const REGISTRY: &str = "127.0.0.1:5000";
const DEBIAN: &str = "127.0.0.1:5000/debian:bookworm";

fn docker_present() -> bool {
    Path::new("/var/run/docker.sock").exists()
        || std::env::var("DOCKER_HOST").is_ok_and(|host| !host.is_empty())
}

fn debian_base_present() -> bool {
    registry_get("/v2/debian/tags/list")
        .is_some_and(|(status, body)| status == 200 && body.contains("bookworm"))
}

async fn docker() -> Option<Docker> {
    if !require("docker", docker_present(), "a Docker engine") {
        return None;
    }
    Some(Docker::connect().await.expect("the Docker engine answers"))
}

/// Docker, with the Debian base in the local registry for the builds that start from it.
async fn docker_with_debian() -> Option<Docker> {
    let docker = docker().await?;
    let base = format!("{DEBIAN} in the local registry");
    require(
        &base,
        debian_base_present(),
        "the testbed (scripts/testbed up)",
    )
    .then_some(docker)
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/images")
        .join(path)
}

/// A build of `dockerfile` in `context`, under a tag of its own: no extra files, no build
/// arguments, no host network.
fn image_spec(name: &str, context: PathBuf, dockerfile: PathBuf) -> ImageSpec {
    ImageSpec {
        name: name.to_string(),
        tag: unique_tag(),
        context,
        dockerfile,
        extra_files: Vec::new(),
        build_args: BTreeMap::new(),
        network_host: false,
    }
}

/// A build whose context is a fresh temporary directory holding `files` (name, content), its
/// `Dockerfile` among them. Dropping the returned `TempDir` deletes the context: keep it.
fn spec_in_temp_dir(name: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, ImageSpec) {
    let dir = tempfile::tempdir().unwrap();
    for (file, content) in files {
        std::fs::write(dir.path().join(file), content).unwrap();
    }
    let spec = image_spec(
        name,
        dir.path().to_path_buf(),
        dir.path().join("Dockerfile"),
    );
    (dir, spec)
}

/// The build argument that bases an image on the registry's Debian.
fn debian_base() -> BTreeMap<String, String> {
    BTreeMap::from([("BASE_IMAGE".to_string(), DEBIAN.to_string())])
}

/// A tag no other run (parallel test, other checkout) uses.
fn unique_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("t{}-{nanos}", std::process::id())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A temp copy of the `ok` fixture with a 4 MiB `ignored.bin` that .dockerignore keeps out, and
/// an executable extra file to be packed as `bin/tool`.
struct OkContext {
    dir: tempfile::TempDir,
}

impl OkContext {
    fn new() -> OkContext {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture("ok"), &dir.path().join("ctx"));
        std::fs::write(dir.path().join("ctx/ignored.bin"), vec![7u8; 4 << 20]).unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\necho tool\n").unwrap();
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        OkContext { dir }
    }

    fn spec(&self, name: &str, dockerfile: PathBuf) -> ImageSpec {
        ImageSpec {
            extra_files: vec![(self.dir.path().join("tool"), "bin/tool".into())],
            build_args: debian_base(),
            ..image_spec(name, self.dir.path().join("ctx"), dockerfile)
        }
    }
}

/// Builds and collects the events.
async fn build(
    docker: &Docker,
    spec: &ImageSpec,
) -> (Result<String, ImageError>, Vec<BuildEvent>, Duration) {
    let mut events = Vec::new();
    let started = Instant::now();
    let result = docker.build(spec, &mut |event| events.push(event)).await;
    (result, events, started.elapsed())
}

fn output(events: &[BuildEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            BuildEvent::Output(line) => Some(line.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn connects_with_a_negotiated_api_version() {
    let Some(docker) = docker().await else { return };
    let version = docker.api_version();
    let minor = version
        .strip_prefix("1.")
        .and_then(|minor| minor.parse::<u32>().ok());
    assert!(
        minor.is_some_and(|minor| minor >= 41),
        "API version {version}"
    );
    eprintln!("Engine API {version}");
}

#[tokio::test]
async fn builds_a_scratch_image_without_ignored_files_and_pushes_it() {
    let Some(docker) = docker().await else { return };
    let context = OkContext::new();
    let spec = context.spec("thidctl-test/scratch", fixture("scratch.Dockerfile"));

    let (result, events, took) = build(&docker, &spec).await;
    let id = result.expect("the scratch image builds");
    eprintln!("scratch build: {took:?}");
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(
        events.contains(&BuildEvent::Step {
            number: 1,
            total: 3,
            instruction: "FROM scratch".into()
        }),
        "{events:?}"
    );

    let inspect = docker
        .engine()
        .inspect_image(&spec.local_ref())
        .await
        .unwrap();
    let size = inspect.size.unwrap_or_default();
    assert!(
        size < 1 << 20,
        "the 4 MiB ignored.bin stayed out, but the image is {size} bytes"
    );
    let labels = inspect
        .config
        .and_then(|config| config.labels)
        .unwrap_or_default();
    assert_eq!(
        labels
            .get("org.opencontainers.image.title")
            .map(String::as_str),
        Some("thidctl image test")
    );

    let delivery = Delivery::Registry {
        registry: REGISTRY.into(),
    };
    let mut pushed = Vec::new();
    let started = Instant::now();
    let cluster_ref = delivery
        .deliver(&docker, &spec, None, &mut |event| pushed.push(event))
        .await;
    eprintln!("scratch push: {:?}", started.elapsed());
    let cluster_ref = cluster_ref.expect("the push to the local registry works");
    assert_eq!(
        cluster_ref,
        format!("{REGISTRY}/thidctl-test/scratch:{}", spec.tag)
    );
    assert!(
        pushed.iter().any(
            |event| matches!(event, BuildEvent::Pushing { status } if status.contains("digest"))
        ),
        "{pushed:?}"
    );

    let (status, tags) =
        registry_get("/v2/thidctl-test/scratch/tags/list").expect("the registry answers");
    let listed = status == 200 && tags.contains(&format!("\"{}\"", spec.tag));

    delete_from_registry("thidctl-test/scratch", &spec.tag);
    docker.remove_image(&cluster_ref).await.unwrap();
    docker.remove_image(&spec.local_ref()).await.unwrap();
    docker
        .remove_image(&spec.local_ref())
        .await
        .expect("removing twice is fine");
    assert!(listed, "tag {} not in {tags}", spec.tag);
}

#[tokio::test]
async fn a_run_step_sees_the_context_docker_would_send() {
    let Some(docker) = docker_with_debian().await else {
        return;
    };
    let context = OkContext::new();
    let mut spec = context.spec("thidctl-test/debian-ok", fixture("ok/Dockerfile"));
    spec.dockerfile = context.dir.path().join("ctx/Dockerfile");
    spec.network_host = true;

    let (result, events, took) = build(&docker, &spec).await;
    eprintln!("debian build: {took:?}");
    docker.remove_image(&spec.local_ref()).await.unwrap();
    result.unwrap_or_else(|error| panic!("{error}\n{}", output(&events)));
    // The RUN's `test`s are the check: had the context been wrong, the build would have failed.
    // A cache hit (a parallel run built the same context) means they already passed once.
    let output = output(&events);
    assert!(
        output.contains("context as expected") || output.contains("Using cache"),
        "{output}"
    );
}

#[tokio::test]
async fn a_failing_step_is_named_with_its_output() {
    let Some(docker) = docker_with_debian().await else {
        return;
    };
    let spec = ImageSpec {
        build_args: debian_base(),
        ..image_spec(
            "thidctl-test/debian-fail",
            fixture("fail"),
            fixture("fail/Dockerfile"),
        )
    };

    let (result, _, took) = build(&docker, &spec).await;
    eprintln!("failing debian build: {took:?}");
    let error = result.expect_err("RUN false fails the build");
    let message = error.to_string();
    eprintln!("{message}");
    assert!(matches!(error, ImageError::BuildFailed { .. }), "{error:?}");
    assert!(message.contains("thidctl-test/debian-fail"), "{message}");
    assert!(
        message.contains(r#"Step 4/5 : RUN echo "the failing step speaks" && false"#),
        "{message}"
    );
    assert!(message.contains("the failing step speaks"), "{message}");
    assert!(message.contains("returned a non-zero code: 1"), "{message}");
    assert!(
        !message.contains("before the failure"),
        "only the failing step's output: {message}"
    );
    assert!(!message.contains("never reached"), "{message}");
}

#[tokio::test]
async fn a_missing_file_fails_a_scratch_build() {
    let Some(docker) = docker().await else { return };
    let (_dir, spec) = spec_in_temp_dir(
        "thidctl-test/scratch-fail",
        &[("Dockerfile", "FROM scratch\nCOPY missing-file /\n")],
    );

    let (result, _, _) = build(&docker, &spec).await;
    let message = result
        .expect_err("COPY of a missing file fails")
        .to_string();
    assert!(
        message.contains("Step 2/2 : COPY missing-file /"),
        "{message}"
    );
    assert!(message.contains("missing-file"), "{message}");
}

#[tokio::test]
async fn a_dockerfile_syntax_error_is_a_build_failure() {
    let Some(docker) = docker().await else { return };
    let (_dir, spec) = spec_in_temp_dir(
        "thidctl-test/syntax",
        &[(
            "Dockerfile",
            "FROM scratch\nNOPE this is not an instruction\n",
        )],
    );

    let (result, _, _) = build(&docker, &spec).await;
    let error = result.expect_err("an unknown instruction fails");
    assert!(matches!(error, ImageError::BuildFailed { .. }), "{error:?}");
    assert!(error.to_string().to_lowercase().contains("nope"), "{error}");
}

#[tokio::test]
async fn a_push_to_an_unreachable_registry_is_push_failed() {
    let Some(docker) = docker().await else { return };
    let (_dir, spec) = spec_in_temp_dir(
        "thidctl-test/unreachable",
        &[
            ("Dockerfile", "FROM scratch\nCOPY hello.txt /\n"),
            ("hello.txt", "hi\n"),
        ],
    );
    build(&docker, &spec)
        .await
        .0
        .expect("the scratch image builds");

    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let target = format!("127.0.0.1:1/thidctl-test/unreachable:{}", spec.tag);
    let credentials = thidctl::image::RegistryCredentials {
        username: "bot".into(),
        password: "pa55-never-shown".into(),
    };
    let started = Instant::now();
    let result = docker
        .push(&spec.local_ref(), &target, Some(credentials), &mut |_| {})
        .await;
    eprintln!("failed push: {:?}", started.elapsed());

    docker.remove_image(&target).await.unwrap();
    docker.remove_image(&spec.local_ref()).await.unwrap();
    let error = result.expect_err("nothing listens on port 1");
    let message = error.to_string();
    eprintln!("{message}");
    assert!(matches!(error, ImageError::PushFailed { .. }), "{error:?}");
    assert!(
        message.contains(&target) && message.contains("connection refused"),
        "{message}"
    );
    assert!(
        !message.contains("pa55-never-shown") && !format!("{error:?}").contains("pa55-never-shown"),
        "{message}"
    );
}

#[tokio::test]
async fn pushing_an_image_that_was_never_built_says_so() {
    let Some(docker) = docker().await else { return };
    let local = format!("thidctl-test/never-built:{}", unique_tag());
    let error = docker
        .push(&local, &format!("{REGISTRY}/{local}"), None, &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(error, ImageError::NoSuchImage { .. }), "{error:?}");
    assert!(error.to_string().contains("build it first"), "{error}");
}

/// GET on the local registry: (status, body). None when nothing answers.
fn registry_get(path: &str) -> Option<(u16, String)> {
    let (status, _, body) = registry_request("GET", path, &[])?;
    Some((status, body))
}

/// Removes a tag the test pushed (the testbed registry allows deletes); best effort.
fn delete_from_registry(repository: &str, tag: &str) {
    let accept = [(
        "Accept",
        "application/vnd.docker.distribution.manifest.v2+json",
    )];
    let Some((200, head, _)) = registry_request(
        "HEAD",
        &format!("/v2/{repository}/manifests/{tag}"),
        &accept,
    ) else {
        return;
    };
    let digest = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("docker-content-digest")
            .then(|| value.trim().to_string())
    });
    if let Some(digest) = digest {
        registry_request(
            "DELETE",
            &format!("/v2/{repository}/manifests/{digest}"),
            &[],
        );
    }
}

/// A minimal HTTP/1.1 exchange with the registry: (status, head, body).
fn registry_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String, String)> {
    let mut stream =
        TcpStream::connect_timeout(&REGISTRY.parse().unwrap(), Duration::from_secs(3)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {REGISTRY}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}
