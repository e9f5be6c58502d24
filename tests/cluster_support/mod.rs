//! Helpers for tests against the real cluster (`scripts/testbed up`): the gate that decides
//! whether they run, the stand-in image, a namespace that deletes itself, and a tiny HTTP client.
//!
//! Traffic goes only to 127.0.0.1 (the API server, the registry, our port-forwards) and every
//! wait is bounded.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const REGISTRY: &str = "127.0.0.1:5000";
pub const DEBIAN: &str = "127.0.0.1:5000/debian:bookworm";

/// Whether cluster tests run: yes with `THIDCTL_CLUSTER_TESTS=1`; without it a developer's run
/// skips with a note, and CI panics, so CI never passes by skipping.
pub fn cluster_or_skip() -> bool {
    if std::env::var("THIDCTL_CLUSTER_TESTS").is_ok_and(|v| v == "1") {
        return true;
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !in_ci,
        "CI is set but THIDCTL_CLUSTER_TESTS=1 is not: cluster tests must run in CI (scripts/testbed up)"
    );
    eprintln!("skipped: set THIDCTL_CLUSTER_TESTS=1 with a cluster (scripts/testbed up)");
    false
}

/// Short and unique enough for parallel runs on one cluster; DNS-1123 safe.
pub fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
}

/// The stand-in service as an image in the local registry, built once per test binary:
/// `127.0.0.1:5000/thidctl-test/starter:<unique>`.
pub fn starter_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(build_starter_image)
}

fn build_starter_image() -> String {
    let tag = format!("{REGISTRY}/thidctl-test/starter:{}", unique());
    let context = tempfile::tempdir().expect("temp dir for the build context");
    let binary = Path::new(env!("CARGO_BIN_EXE_thidwick-starter"));
    std::fs::copy(binary, context.path().join("thidwick-starter"))
        .expect("copy the starter binary");
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {DEBIAN}\n\
             COPY thidwick-starter /usr/local/bin/thidwick-starter\n\
             EXPOSE 8080\n\
             ENTRYPOINT [\"/usr/local/bin/thidwick-starter\", \"--listen\", \"0.0.0.0:8080\"]\n"
        ),
    )
    .expect("write the Dockerfile");
    run(Command::new("docker")
        .args(["build", "--quiet", "--tag", &tag])
        .arg(context.path()));
    run(Command::new("docker").args(["push", &tag]));
    // The registry keeps the pushed copy; the local one is only clutter.
    let _ = Command::new("docker").args(["image", "rm", &tag]).output();
    tag
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A namespace that is deleted when the guard drops — on success and on panic alike. The delete
/// runs on its own thread and runtime, since Drop may run inside the test's runtime.
pub struct NamespaceGuard {
    pub name: String,
}

impl NamespaceGuard {
    pub fn new(prefix: &str) -> NamespaceGuard {
        NamespaceGuard {
            name: format!("{prefix}-{}", unique()),
        }
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let name = self.name.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async {
                let work = async {
                    let cluster = thidctl::kube::connect(None).await?;
                    // Zero wait: ask for the deletion, do not hold the test up for it.
                    thidctl::kube::delete_namespace(&cluster, &name, Duration::ZERO).await
                };
                match tokio::time::timeout(Duration::from_secs(20), work).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("cleanup: namespace {name} not deleted: {e}"),
                    Err(_) => eprintln!("cleanup: namespace {name} not deleted within 20s"),
                }
            });
        })
        .join();
        if deleted.is_err() {
            eprintln!("cleanup: deleting namespace {} panicked", self.name);
        }
    }
}

/// `GET path` over a fresh connection, HTTP/1.1 with `Connection: close`; (status, body).
/// The write side is never shut down early: a half-close ends a kube port-forward stream.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let timeout = Duration::from_secs(15);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    // Read up to the end of the body by Content-Length: the end of the stream arrives about a
    // second after the pod closes (the kubelet's doing), which would slow every request.
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(done) = complete_response(&raw) {
            return done;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {} bytes: {e}", raw.len())),
        }
    }
    complete_response(&raw).unwrap_or_else(|| {
        Err(format!(
            "connection closed mid-response after {} bytes: {:?}",
            raw.len(),
            String::from_utf8_lossy(&raw)
        ))
    })
}

/// `Some` once `raw` holds a whole response (Content-Length or a final chunk).
fn complete_response(raw: &[u8]) -> Option<Result<(u16, String), String>> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = match head.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
        Some(status) => status,
        None => return Some(Err(format!("bad status line: {head:?}"))),
    };
    let lower = head.to_ascii_lowercase();
    if lower.contains("transfer-encoding: chunked") {
        return body
            .ends_with("0\r\n\r\n")
            .then(|| Ok((status, dechunk(body))));
    }
    let length: usize = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    (body.len() >= length).then(|| Ok((status, body[..length].to_string())))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// A finished command's stdout and stderr together, for assertion messages.
pub fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// thidctl run from the project against the testbed: its registry and Debian base, state kept
/// in `state_dir` so that tests never touch a user's state, nothing inherited from the caller's
/// THIDCTL_* settings.
pub fn thidctl_command(namespace: &str, state_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thidctl"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("THIDCTL_NAMESPACE", namespace)
        .env("THIDCTL_STATE_DIR", state_dir)
        .env("THIDCTL_REGISTRY", REGISTRY)
        .env("THIDCTL_BASE_IMAGE", DEBIAN)
        .env("THIDCTL_PROJECT_DIR", env!("CARGO_MANIFEST_DIR"))
        .env_remove("THIDCTL_CONFIG")
        .env_remove("THIDCTL_PROMETHEUS_URL")
        .env_remove("THIDCTL_LOCUST_URL");
    command
}

/// The 127.0.0.1 address of forward `name` in the JSON that `thidctl up --output json` printed.
pub fn forward_in(report: &serde_json::Value, name: &str) -> SocketAddr {
    report["forwards"]
        .as_array()
        .and_then(|forwards| forwards.iter().find(|f| f["name"] == name))
        .and_then(|f| f["local"].as_str())
        .unwrap_or_else(|| panic!("no {name} forward in {report}"))
        .parse()
        .expect("a socket address")
}
