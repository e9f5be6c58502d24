//! Why a request failed, grouped the way the failures table shows it.

use std::fmt;
use std::io;

/// The cause of a failed request. Causes are few and stable so that the failures table groups
/// them; anything unforeseen keeps its message in `Other`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum FailureCause {
    /// The response came back with a status the request does not accept.
    Status(u16),
    ConnectionRefused,
    /// Reset, broken pipe, or the peer closed before the response was complete.
    ConnectionReset,
    Timeout,
    /// The target's host name did not resolve.
    Dns,
    Other(String),
}

impl FailureCause {
    /// A stable machine-readable key for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            FailureCause::Status(_) => "status",
            FailureCause::ConnectionRefused => "connection_refused",
            FailureCause::ConnectionReset => "connection_reset",
            FailureCause::Timeout => "timeout",
            FailureCause::Dns => "dns",
            FailureCause::Other(_) => "other",
        }
    }

    /// Classifies an I/O error met while connecting, writing or reading.
    pub fn from_io(error: &io::Error) -> FailureCause {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => FailureCause::ConnectionRefused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected => FailureCause::ConnectionReset,
            io::ErrorKind::TimedOut => FailureCause::Timeout,
            _ => FailureCause::Other(error.to_string()),
        }
    }
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Status(code) => {
                let reason = hyper::StatusCode::from_u16(*code)
                    .ok()
                    .and_then(|status| status.canonical_reason())
                    .unwrap_or("");
                write!(f, "HTTP {code}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                Ok(())
            }
            FailureCause::ConnectionRefused => f.write_str("connection refused"),
            FailureCause::ConnectionReset => f.write_str("connection reset or closed by peer"),
            FailureCause::Timeout => f.write_str("timed out"),
            FailureCause::Dns => f.write_str("host name did not resolve (DNS)"),
            FailureCause::Other(message) => f.write_str(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_causes() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            FailureCause::from_io(&refused),
            FailureCause::ConnectionRefused
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(FailureCause::from_io(&reset), FailureCause::ConnectionReset);
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(FailureCause::from_io(&eof), FailureCause::ConnectionReset);
        let odd = io::Error::other("odd");
        assert_eq!(
            FailureCause::from_io(&odd),
            FailureCause::Other("odd".into())
        );
    }

    #[test]
    fn status_reads_like_http() {
        assert_eq!(
            FailureCause::Status(500).to_string(),
            "HTTP 500 Internal Server Error"
        );
        assert_eq!(FailureCause::Status(500).kind(), "status");
    }
}
