//! Everything that can go wrong talking to Prometheus or reading a dashboard, each message one
//! line that says what to do about it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PromError {
    #[error(
        "Prometheus at {url} is unreachable after {attempts} tries: is it running, and is the port-forward up?"
    )]
    Unreachable {
        url: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },

    /// Prometheus understood the request and said no (`bad_data`, `execution`, …): retrying the
    /// same query cannot help.
    #[error("Prometheus rejected the query ({error_type}): {message}")]
    Rejected { error_type: String, message: String },

    #[error(
        "Prometheus at {url} answered HTTP {status}: {body} (is the URL the Prometheus server, not Grafana?)"
    )]
    Http {
        status: u16,
        url: String,
        /// The start of the body, on one line.
        body: String,
    },

    #[error(
        "Prometheus's answer is not the API's JSON ({0}): is the URL the Prometheus server, not Grafana?"
    )]
    Decode(#[source] serde_json::Error),

    #[error("dashboard: {0}")]
    Dashboard(String),

    #[error("invalid Prometheus URL: {0} (write e.g. http://127.0.0.1:9090)")]
    Url(String),
}
