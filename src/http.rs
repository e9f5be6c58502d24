//! The HTTP client for talking to Prometheus and Locust: TLS verified by default (rustls with
//! the ring provider that kube-rs already brings), bounded timeouts.

use std::time::Duration;

/// rustls needs one process-wide crypto provider; the first caller installs ring.
fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn client(timeout: Duration) -> reqwest::Client {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("thidctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client with default TLS settings builds")
}
