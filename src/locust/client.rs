//! The Locust master's web API: the same calls the web UI makes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use super::error::LocustError;
use super::page;
use super::percentiles::PercentileTable;
use super::stats::LocustStats;

/// Locust answers in milliseconds; anything slower means it or its port-forward is stuck.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Locust's web API generation, told apart by the swarm form's field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiGeneration {
    /// Locust before 1.0 (the runbook's 0.8.1): `locust_count` and `hatch_rate`.
    Legacy,
    /// Locust 1.x and 2.x: `user_count` and `spawn_rate`.
    Modern,
}

pub struct LocustClient {
    base: Url,
    http: reqwest::Client,
    generation: OnceCell<ApiGeneration>,
}

/// The answer of `POST /swarm` in every generation.
#[derive(Deserialize)]
struct SwarmReply {
    success: bool,
    #[serde(default)]
    message: String,
}

impl LocustClient {
    pub fn new(base_url: &str) -> Result<LocustClient, LocustError> {
        let mut base = Url::parse(base_url).map_err(|source| LocustError::BadUrl {
            url: base_url.to_string(),
            source,
        })?;
        // Locust may sit under a path prefix (an ingress); keep it when joining endpoints.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(LocustClient {
            base,
            http: crate::http::client(TIMEOUT),
            generation: OnceCell::new(),
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Read from the index page once; a Locust does not change generation while it runs.
    pub async fn generation(&self) -> Result<ApiGeneration, LocustError> {
        self.generation
            .get_or_try_init(|| async {
                let html = self.text(Method::GET, "").await?;
                page::generation(&html).ok_or_else(|| LocustError::NotLocust {
                    url: self.base.to_string(),
                })
            })
            .await
            .copied()
    }

    /// The host Locust's users are aimed at, as its web UI shows it; `None` when it has none
    /// (the locustfile's users then carry their own).
    pub async fn target_host(&self) -> Result<Option<String>, LocustError> {
        let html = self.text(Method::GET, "").await?;
        if page::generation(&html).is_none() {
            return Err(LocustError::NotLocust {
                url: self.base.to_string(),
            });
        }
        Ok(page::target_host(&html))
    }

    /// Starts a swarm, or changes the running one to `users` at `spawn_rate`. `host` re-aims
    /// Locust first; only 1.x/2.x can be re-aimed through the web API.
    pub async fn swarm(
        &self,
        users: u64,
        spawn_rate: f64,
        host: Option<&str>,
    ) -> Result<(), LocustError> {
        let (users_field, rate_field) = match self.generation().await? {
            ApiGeneration::Modern => ("user_count", "spawn_rate"),
            ApiGeneration::Legacy if host.is_some() => {
                return Err(LocustError::Refused {
                    message: "Locust 0.8 takes its target only from its command line \
                              (the chart's master.config.target-host), not from --host"
                        .to_string(),
                });
            }
            ApiGeneration::Legacy => ("locust_count", "hatch_rate"),
        };
        let mut form = vec![
            (users_field, users.to_string()),
            (rate_field, spawn_rate.to_string()),
        ];
        if let Some(host) = host {
            form.push(("host", host.to_string()));
        }
        let url = self.endpoint("swarm");
        let response = self.send(Method::POST, &url, Some(&form)).await?;
        let body = Self::body(&url, Method::POST, response).await?;
        let reply: SwarmReply =
            serde_json::from_str(&body).map_err(|source| LocustError::Decode {
                url: url.to_string(),
                source,
            })?;
        if reply.success {
            Ok(())
        } else {
            Err(LocustError::Refused {
                message: reply.message,
            })
        }
    }

    pub async fn stats(&self) -> Result<LocustStats, LocustError> {
        let body = self.text(Method::GET, "stats/requests").await?;
        LocustStats::parse(&body).map_err(|source| LocustError::Decode {
            url: self.endpoint("stats/requests").to_string(),
            source,
        })
    }

    /// The percentiles of Locust's CSV download, which has all of them where the JSON of
    /// 1.x–2.12 has two; `None` where this Locust has no such CSV (0.8) or it cannot be read.
    pub async fn percentile_table(&self) -> Result<Option<PercentileTable>, LocustError> {
        match self.text(Method::GET, "stats/requests/csv").await {
            Ok(csv_text) => Ok(PercentileTable::parse(&csv_text)),
            Err(LocustError::Http { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Stops every user; the statistics stay until the next swarm or reset.
    pub async fn stop(&self) -> Result<(), LocustError> {
        self.command("stop").await
    }

    /// Clears the statistics and errors, also while a swarm runs.
    pub async fn reset(&self) -> Result<(), LocustError> {
        self.command("stats/reset").await
    }

    /// `/stop` and `/stats/reset` were GETs until late 2.x made them POSTs; ask the old way
    /// first (0.8 and the project's 2.12 take it) and follow a 405 to the new one.
    async fn command(&self, path: &str) -> Result<(), LocustError> {
        let url = self.endpoint(path);
        let response = self.send(Method::GET, &url, None).await?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            let response = self.send(Method::POST, &url, None).await?;
            Self::body(&url, Method::POST, response).await?;
        } else {
            Self::body(&url, Method::GET, response).await?;
        }
        Ok(())
    }

    async fn text(&self, method: Method, path: &str) -> Result<String, LocustError> {
        let url = self.endpoint(path);
        let response = self.send(method.clone(), &url, None).await?;
        Self::body(&url, method, response).await
    }

    fn endpoint(&self, path: &str) -> Url {
        self.base.join(path).expect("endpoint paths are relative")
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        form: Option<&[(&str, String)]>,
    ) -> Result<reqwest::Response, LocustError> {
        let mut request = self.http.request(method, url.clone());
        if let Some(form) = form {
            request = request.form(form);
        }
        request
            .send()
            .await
            .map_err(|source| self.unreachable(source))
    }

    /// The body of a successful answer; other statuses become [`LocustError::Http`].
    async fn body(
        url: &Url,
        method: Method,
        response: reqwest::Response,
    ) -> Result<String, LocustError> {
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| LocustError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        if status.is_success() {
            return Ok(text);
        }
        // Flask's HTML error pages say no more than the status; other bodies may say why.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let detail = if text.is_empty() || text.starts_with('<') {
            String::new()
        } else {
            format!(": {}", text.chars().take(200).collect::<String>())
        };
        Err(LocustError::Http {
            method: method.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
            detail,
        })
    }

    fn unreachable(&self, source: reqwest::Error) -> LocustError {
        LocustError::Unreachable {
            url: self.base.to_string(),
            source,
        }
    }
}
