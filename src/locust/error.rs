use thiserror::Error;

#[derive(Debug, Error)]
pub enum LocustError {
    #[error("invalid Locust URL {url:?}")]
    BadUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    /// Nothing answered, or the answer did not arrive: most often the port-forward is down.
    #[error("Locust is not answering at {url}: is `thidctl up` running (its forward to 8089)?")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Locust answered {status} to {method} {url}{detail}")]
    Http {
        method: String,
        url: String,
        status: u16,
        /// ": " and the start of a plain-text or JSON body; empty for HTML error pages.
        detail: String,
    },
    #[error("cannot read Locust's answer from {url}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url} does not look like Locust's web UI: its page has no swarm form")]
    NotLocust { url: String },
    /// Locust understood the request and said no, or cannot do what was asked.
    #[error("Locust refused: {message}")]
    Refused { message: String },
}
