//! The service under load, from `--host`: where to connect and what to put in `Host:`.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum TargetError {
    #[error("invalid --host {0:?}: {1} (write it like http://127.0.0.1:8080)")]
    Invalid(String, String),
    #[error(
        "--host {0:?} uses https, which the native engine does not speak yet; use an http:// URL"
    )]
    Https(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As given, for reports.
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The `Host:` header value.
    pub authority: String,
    /// Prefix joined before each request's path, without a trailing slash.
    pub base_path: String,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let invalid = |why: &str| TargetError::Invalid(text.to_string(), why.to_string());
        let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "http" => {}
            "https" => return Err(TargetError::Https(text.to_string())),
            other => return Err(invalid(&format!("scheme {other:?} is not http"))),
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(address)) => address.to_string(),
            Some(host) => host.to_string(),
            None => return Err(invalid("it names no host")),
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "a query or fragment belongs in the request path, not the host",
            ));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or(&host)),
            None => url.host_str().unwrap_or(&host).to_string(),
        };
        Ok(Target {
            url: text.to_string(),
            host,
            port,
            authority,
            base_path: url.path().trim_end_matches('/').to_string(),
        })
    }

    /// The origin-form request target for a task's path.
    pub fn request_path(&self, path: &str) -> String {
        format!("{}{path}", self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_hosts() {
        let target = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 8080));
        assert_eq!(target.authority, "127.0.0.1:8080");
        assert_eq!(target.request_path("/hello"), "/hello");
        let named = Target::parse("http://thidwick-thidwick-starter:8080/").unwrap();
        assert_eq!(named.host, "thidwick-thidwick-starter");
        let default_port = Target::parse("http://localhost").unwrap();
        assert_eq!(
            (default_port.port, default_port.authority.as_str()),
            (80, "localhost")
        );
    }

    #[test]
    fn base_path_and_ipv6() {
        let target = Target::parse("http://[::1]:9000/api/").unwrap();
        assert_eq!(target.host, "::1");
        assert_eq!(target.authority, "[::1]:9000");
        assert_eq!(target.request_path("/hello"), "/api/hello");
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            Target::parse("127.0.0.1:8080"),
            Err(TargetError::Invalid(..))
        ));
        assert!(matches!(
            Target::parse("not a url"),
            Err(TargetError::Invalid(..))
        ));
        assert!(matches!(
            Target::parse("https://x"),
            Err(TargetError::Https(_))
        ));
        assert!(matches!(
            Target::parse("ftp://x"),
            Err(TargetError::Invalid(..))
        ));
        assert!(matches!(
            Target::parse("http://x/?q=1"),
            Err(TargetError::Invalid(..))
        ));
    }
}
