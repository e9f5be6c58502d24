//! A small client for the Prometheus HTTP API: instant queries and the global scrape interval.
//! Transient trouble (connection errors, timeouts, 503) is retried a bounded number of times;
//! answers Prometheus means (`bad_data`, …) are not.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::duration;
use super::error::PromError;

/// Tries per request, transient failures included.
const TRIES: u32 = 3;
/// The wait before the second try; doubled before each later one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// One request, including Prometheus's own evaluation (its default query timeout is 2 min, but a
/// dashboard panel that needs more than this is a finding in itself).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Prometheus {
    base_url: String,
    client: reqwest::Client,
}

/// The answer to an instant query. Warnings are part of the answer: a caller that drops them
/// may pass a check on partial data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub samples: Vec<Sample>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    /// NaN stays NaN: "the expression divided 0 by 0" is evidence, not a decode error.
    pub value: f64,
    /// Unix seconds. For an instant query this is the evaluation time, not the raw sample's.
    pub timestamp: f64,
}

impl Prometheus {
    /// `base_url` like `http://127.0.0.1:9090`, or with a path prefix like
    /// `https://host/prometheus`. https is verified; plain http is allowed for port-forwards.
    pub fn new(base_url: &str) -> Result<Prometheus, PromError> {
        let parsed = url::Url::parse(base_url.trim())
            .map_err(|err| PromError::Url(format!("{base_url:?}: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PromError::Url(format!(
                "{base_url:?}: the scheme must be http or https"
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(PromError::Url(format!(
                "{base_url:?}: a base URL has no query or fragment"
            )));
        }
        Ok(Prometheus {
            base_url: parsed.as_str().trim_end_matches('/').to_owned(),
            client: crate::http::client(REQUEST_TIMEOUT),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /api/v1/query` at Prometheus's "now".
    pub async fn instant_query(&self, query: &str) -> Result<QueryResult, PromError> {
        let (url, status, body) = self.get("/api/v1/query", &[("query", query)]).await?;
        let data = api_data(&url, status, &body)?;
        decode_query_data(data.data, data.warnings)
    }

    /// The global `scrape_interval` from `/api/v1/status/config` (the config as YAML inside the
    /// JSON). `Ok(None)` when the server does not serve its config (not every Prometheus-alike
    /// does) or it cannot be read; `Err` only when the server cannot be reached.
    pub async fn scrape_interval(&self) -> Result<Option<Duration>, PromError> {
        let (url, status, body) = self.get("/api/v1/status/config", &[]).await?;
        let Ok(data) = api_data(&url, status, &body) else {
            return Ok(None);
        };
        Ok(data
            .data
            .get("yaml")
            .and_then(Value::as_str)
            .and_then(global_scrape_interval))
    }

    /// One GET with bounded retries. Gives back the URL, status and body of the last answer.
    async fn get(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<(String, StatusCode, String), PromError> {
        let url = format!("{}{path}", self.base_url);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let error = match self.client.get(&url).query(params).send().await {
                Ok(response) => {
                    let status = response.status();
                    match response.text().await {
                        Ok(_) if is_transient(status) && attempt < TRIES => None,
                        Ok(body) => return Ok((url, status, body)),
                        Err(error) => Some(error),
                    }
                }
                Err(error) => Some(error),
            };
            if let Some(source) = error
                && attempt >= TRIES
            {
                return Err(PromError::Unreachable {
                    url,
                    attempts: attempt,
                    source,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// 503 is Prometheus's "query timed out / not ready yet"; 502 and 504 come from a proxy or
/// port-forward in front of it with the same meaning.
fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The API's envelope: `{"status": "success"|"error", "data", "errorType", "error", "warnings"}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Value,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

struct ApiData {
    data: Value,
    warnings: Vec<String>,
}

/// Opens the envelope. Prometheus sends its errors as JSON with a 4xx/5xx status, so the body
/// is read first and the HTTP status only matters when the body is not the API's JSON.
fn api_data(url: &str, status: StatusCode, body: &str) -> Result<ApiData, PromError> {
    let envelope: Envelope = match serde_json::from_str(body) {
        Ok(envelope) => envelope,
        Err(_) if !status.is_success() => {
            return Err(PromError::Http {
                status: status.as_u16(),
                url: url.to_owned(),
                body: one_line(body),
            });
        }
        Err(error) => return Err(PromError::Decode(error)),
    };
    if envelope.status == "success" {
        return Ok(ApiData {
            data: envelope.data,
            warnings: envelope.warnings,
        });
    }
    Err(PromError::Rejected {
        error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
        message: envelope
            .error
            .unwrap_or_else(|| format!("status {:?} without a message", envelope.status)),
    })
}

/// Decodes a whole `/api/v1/query` answer; the unit tests feed it recorded responses.
#[cfg(test)]
pub(crate) fn decode_query_response(body: &str) -> Result<QueryResult, PromError> {
    let data = api_data("(recorded)", StatusCode::OK, body)?;
    decode_query_data(data.data, data.warnings)
}

#[derive(Debug, Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Value,
}

#[derive(Debug, Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    values: Option<Vec<Value>>,
    #[serde(default)]
    histogram: Option<Value>,
}

fn decode_query_data(data: Value, warnings: Vec<String>) -> Result<QueryResult, PromError> {
    let data: QueryData = serde_json::from_value(data).map_err(PromError::Decode)?;
    let samples = match data.result_type.as_str() {
        "vector" => {
            let series: Vec<Series> =
                serde_json::from_value(data.result).map_err(PromError::Decode)?;
            series.into_iter().filter_map(series_sample).collect()
        }
        // A matrix answers an instant query of a range selector; its newest point stands for it.
        "matrix" => {
            let series: Vec<Series> =
                serde_json::from_value(data.result).map_err(PromError::Decode)?;
            series
                .into_iter()
                .filter_map(|series| {
                    let last = series.values.as_ref()?.last()?;
                    let (timestamp, value) = point(last)?;
                    Some(Sample {
                        labels: series.metric,
                        value,
                        timestamp,
                    })
                })
                .collect()
        }
        "scalar" | "string" => point(&data.result)
            .map(|(timestamp, value)| Sample {
                labels: BTreeMap::new(),
                value,
                timestamp,
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    Ok(QueryResult { samples, warnings })
}

fn series_sample(series: Series) -> Option<Sample> {
    let (timestamp, value) = match (&series.value, &series.histogram) {
        (Some(value), _) => point(value)?,
        // A native histogram sample has no single value; its observation count says "data".
        (None, Some(histogram)) => {
            let timestamp = histogram.get(0)?.as_f64()?;
            let count = histogram.get(1)?.get("count")?;
            (timestamp, parse_value(count))
        }
        (None, None) => return None,
    };
    Some(Sample {
        labels: series.metric,
        value,
        timestamp,
    })
}

/// `[1700000000.123, "42"]` → (time, value).
fn point(value: &Value) -> Option<(f64, f64)> {
    let timestamp = value.get(0)?.as_f64()?;
    Some((timestamp, parse_value(value.get(1)?)))
}

/// Prometheus writes values as strings, including `NaN`, `+Inf` and `-Inf`.
fn parse_value(value: &Value) -> f64 {
    match value.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(text) => text.parse().unwrap_or(f64::NAN),
        None => value.as_f64().unwrap_or(f64::NAN),
    }
}

/// `global.scrape_interval` from Prometheus's config YAML; Prometheus's default (1m) when the
/// config has a `global` section without one.
fn global_scrape_interval(yaml: &str) -> Option<Duration> {
    let config: serde_yaml::Value = serde_yaml::from_str(yaml).ok()?;
    match config.get("global")?.get("scrape_interval") {
        Some(interval) => duration::parse(interval.as_str()?),
        None => Some(Duration::from_secs(60)),
    }
}

/// The first 200 characters of a body on one line, for an error message.
fn one_line(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/prometheus/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    #[test]
    fn decodes_a_vector() {
        let result = decode_query_response(&fixture("query-vector.json")).unwrap();
        assert!(result.warnings.is_empty());
        assert!(!result.samples.is_empty());
        let sample = &result.samples[0];
        assert_eq!(sample.labels["route"], "/hello");
        assert!(sample.value > 0.0);
        assert!(sample.timestamp > 1.6e9);
    }

    #[test]
    fn decodes_a_scalar() {
        let result = decode_query_response(&fixture("query-scalar.json")).unwrap();
        assert_eq!(result.samples.len(), 1);
        assert!(result.samples[0].labels.is_empty());
        assert_eq!(result.samples[0].value, 42.0);
    }

    #[test]
    fn decodes_an_empty_vector() {
        let result = decode_query_response(&fixture("query-empty.json")).unwrap();
        assert!(result.samples.is_empty());
    }

    #[test]
    fn keeps_nan() {
        let result = decode_query_response(&fixture("query-nan.json")).unwrap();
        assert!(!result.samples.is_empty());
        assert!(result.samples.iter().all(|sample| sample.value.is_nan()));
    }

    #[test]
    fn a_matrix_stands_for_its_newest_point() {
        let result = decode_query_response(&fixture("query-matrix.json")).unwrap();
        assert!(!result.samples.is_empty());
        assert!(result.samples.iter().all(|sample| sample.timestamp > 1.6e9));
    }

    #[test]
    fn bad_data_is_rejected_with_prometheus_message() {
        match decode_query_response(&fixture("query-bad-data.json")) {
            Err(PromError::Rejected {
                error_type,
                message,
            }) => {
                assert_eq!(error_type, "bad_data");
                assert!(message.contains("parse error"), "{message}");
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[test]
    fn warnings_are_kept() {
        let result = decode_query_response(&fixture("query-warnings.json")).unwrap();
        assert_eq!(result.warnings.len(), 1);
        assert!(!result.samples.is_empty());
    }

    #[test]
    fn a_non_json_error_is_an_http_error() {
        let error = api_data(
            "http://127.0.0.1:1/api/v1/query",
            StatusCode::NOT_FOUND,
            "404 page not found\n",
        )
        .err()
        .unwrap();
        assert!(
            matches!(error, PromError::Http { status: 404, .. }),
            "{error}"
        );
        assert!(!error.to_string().contains('\n'));
    }

    #[test]
    fn html_with_200_is_a_decode_error() {
        let error = api_data("x", StatusCode::OK, "<!doctype html><title>Grafana</title>")
            .err()
            .unwrap();
        assert!(matches!(error, PromError::Decode(_)), "{error}");
    }

    #[test]
    fn scrape_interval_from_recorded_config() {
        let body = fixture("status-config.json");
        let data = api_data("x", StatusCode::OK, &body).ok().unwrap();
        let yaml = data.data["yaml"].as_str().unwrap();
        assert_eq!(global_scrape_interval(yaml), Some(Duration::from_secs(1)));
        assert_eq!(
            global_scrape_interval("global:\n  scrape_interval: 20s\n"),
            Some(Duration::from_secs(20))
        );
        assert_eq!(global_scrape_interval("not: [valid"), None);
    }

    /// A local server that answers each request with the next of `answers` (status, body) and
    /// counts the requests; the retry policy is the subject here, not Prometheus.
    async fn answering(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut served = 0;
            for (status, body) in answers {
                let Ok((mut stream, _)) = listener.accept().await else {
                    break;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                served += 1;
            }
            served
        });
        (url, server)
    }

    const UNAVAILABLE: &str = r#"{"status":"error","errorType":"unavailable","error":"not ready"}"#;

    #[tokio::test]
    async fn a_503_is_retried_three_times_then_reported() {
        let (url, server) = answering(vec![(503, UNAVAILABLE); 4]).await;
        let prometheus = Prometheus::new(&url).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), prometheus.instant_query("up"))
            .await
            .expect("bounded");
        match result {
            Err(PromError::Rejected { error_type, .. }) => assert_eq!(error_type, "unavailable"),
            other => panic!("{other:?}"),
        }
        server.abort();
        let (url, server) = answering(vec![(503, "busy"); 3]).await;
        let prometheus = Prometheus::new(&url).unwrap();
        let result = prometheus.instant_query("up").await;
        assert!(
            matches!(result, Err(PromError::Http { status: 503, .. })),
            "{result:?}"
        );
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_503_then_an_answer_succeeds_and_bad_data_is_not_retried() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let bad = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        let (url, server) = answering(vec![(503, UNAVAILABLE), (200, vector), (400, bad)]).await;
        let prometheus = Prometheus::new(&url).unwrap();
        assert_eq!(
            prometheus.instant_query("up").await.unwrap(),
            QueryResult::default()
        );
        assert!(matches!(
            prometheus.instant_query("sum(").await,
            Err(PromError::Rejected { .. })
        ));
        assert_eq!(server.await.unwrap(), 3);
    }

    #[test]
    fn urls() {
        let prometheus = Prometheus::new("http://127.0.0.1:9090/").unwrap();
        assert_eq!(prometheus.base_url(), "http://127.0.0.1:9090");
        let prefixed = Prometheus::new("https://example.test/prometheus/").unwrap();
        assert_eq!(prefixed.base_url(), "https://example.test/prometheus");
        assert!(matches!(Prometheus::new("ftp://x"), Err(PromError::Url(_))));
        assert!(matches!(
            Prometheus::new("not a url"),
            Err(PromError::Url(_))
        ));
    }
}
