//! What can go wrong while building and shipping images, each with the fix in its message.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImageError {
    #[error(
        "cannot reach the Docker engine at {host}: is dockerd running? start it or set DOCKER_HOST"
    )]
    Unreachable {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the Docker engine failed while {action}")]
    Engine {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image {reference} does not exist in the local Docker engine: build it first")]
    NoSuchImage { reference: String },
    #[error("build context {path}: {problem}")]
    Context { path: PathBuf, problem: String },
    #[error("cannot read {path} for the build context")]
    ContextIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: invalid pattern `{pattern}`: fix or remove it")]
    DockerIgnore {
        path: PathBuf,
        line: usize,
        pattern: String,
        #[source]
        source: globset::Error,
    },
    /// Multi-line on purpose: the tail of the build output is what tells the user what broke.
    #[error("{}", build_failed(.image, .step.as_deref(), .message, .output))]
    BuildFailed {
        image: String,
        /// The failing instruction as the builder printed it, e.g. "Step 3/5 : RUN false".
        step: Option<String>,
        message: String,
        /// The last lines the failing step printed.
        output: Vec<String>,
    },
    #[error("pushing {target} failed: {message}{}", push_hint(.message))]
    PushFailed { target: String, message: String },
    #[error(
        "kube context `{context}` is not kind, minikube or Docker Desktop, so images must go through \
         a registry the cluster can pull from: pass --registry HOST[:PORT]"
    )]
    NoDelivery { context: String },
    #[error("registry credentials for {registry}: {problem}")]
    Credentials { registry: String, problem: String },
    #[error("`{binary}` is not installed or not on PATH: {install}")]
    ToolMissing {
        binary: &'static str,
        install: &'static str,
    },
    #[error("`{command}` failed: {output}")]
    LoadFailed { command: String, output: String },
}

fn build_failed(image: &str, step: Option<&str>, message: &str, output: &[String]) -> String {
    let mut text = format!("building {image} failed");
    if let Some(step) = step {
        text.push_str(&format!(" at `{step}`"));
    }
    text.push_str(&format!(": {message}"));
    if !output.is_empty() {
        text.push_str("\n  last output:");
        for line in output {
            text.push_str("\n    ");
            text.push_str(line);
        }
    }
    text
}

/// The daemon's own words rarely say what to do; these are the usual causes.
fn push_hint(message: &str) -> &'static str {
    let message = message.to_ascii_lowercase();
    if message.contains("http response to https client") {
        " (a plain-HTTP registry must be listed in dockerd's insecure-registries, or use 127.0.0.1/localhost)"
    } else if message.contains("connection refused") || message.contains("no such host") {
        " (is the registry running and reachable from the Docker engine?)"
    } else if message.contains("unauthorized")
        || message.contains("authentication required")
        || message.contains("no basic auth credentials")
        || message.contains("denied")
    {
        " (set THIDCTL_REGISTRY_USERNAME and THIDCTL_REGISTRY_PASSWORD, or run `docker login` for this registry)"
    } else {
        ""
    }
}
