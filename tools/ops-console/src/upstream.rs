//! The console's sources: the services' admin APIs (with the operator's credential), their
//! `/metrics`, and the NATS monitoring endpoint. Answers are read as JSON values, field by
//! field, so a newer service with more fields still shows.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::config::ConsoleConfig;

pub struct Upstream {
    http: reqwest::Client,
    services: Vec<(String, Url)>,
    nats_monitor: Url,
}

/// What a service answered: its status and body (JSON, or `null` when it was not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The problem+json's `detail` (or `title`, or the status) for showing.
    pub fn problem(&self) -> String {
        let field = |k: &str| self.body.get(k).and_then(Value::as_str).map(str::to_string);
        let text = field("detail").or_else(|| field("title"));
        match (field("code"), text) {
            (Some(code), Some(text)) => format!("{} {code}: {text}", self.status),
            (None, Some(text)) => format!("{}: {text}", self.status),
            _ => format!("HTTP {}", self.status),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no service {0} is configured")]
    UnknownService(String),
    #[error("{0}")]
    Unreachable(String),
}

impl Upstream {
    pub fn new(config: &ConsoleConfig) -> Self {
        service_kit::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.upstream_timeout)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            services: config.services.clone(),
            nats_monitor: config.nats_monitor.clone(),
        }
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|(n, _)| n.as_str())
    }

    pub fn has_service(&self, name: &str) -> bool {
        self.services.iter().any(|(n, _)| n == name)
    }

    fn url(&self, service: &str, path: &str) -> Result<Url, UpstreamError> {
        let (_, base) = self
            .services
            .iter()
            .find(|(n, _)| n == service)
            .ok_or_else(|| UpstreamError::UnknownService(service.to_string()))?;
        base.join(path)
            .map_err(|e| UpstreamError::Unreachable(format!("{service}{path}: {e}")))
    }

    /// An admin call (`GET` or `POST` without a body) with the operator's bearer credential.
    pub async fn admin(
        &self,
        service: &str,
        post: bool,
        path: &str,
        credential: &str,
    ) -> Result<Answer, UpstreamError> {
        let url = self.url(service, path)?;
        let request = if post {
            self.http.post(url)
        } else {
            self.http.get(url)
        };
        Self::answer(service, request, credential).await
    }

    /// An admin `POST` with a JSON body, with the operator's bearer credential.
    pub async fn admin_post(
        &self,
        service: &str,
        path: &str,
        body: &Value,
        credential: &str,
    ) -> Result<Answer, UpstreamError> {
        let url = self.url(service, path)?;
        Self::answer(service, self.http.post(url).json(body), credential).await
    }

    async fn answer(
        service: &str,
        request: reqwest::RequestBuilder,
        credential: &str,
    ) -> Result<Answer, UpstreamError> {
        let response = request
            .bearer_auth(credential)
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("{service}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("{service}: {e}")))?;
        Ok(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    /// A service's Prometheus text (`/metrics` is not an admin endpoint).
    pub async fn metrics(&self, service: &str) -> Result<String, UpstreamError> {
        let url = self.url(service, "/metrics")?;
        let unreachable = |e: reqwest::Error| UpstreamError::Unreachable(format!("{service}: {e}"));
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(UpstreamError::Unreachable(format!(
                "{service}: /metrics answered {}",
                response.status()
            )));
        }
        response.text().await.map_err(unreachable)
    }

    /// `/jsz` with streams, consumers and their configs (as `just streams` reads it).
    pub async fn jsz(&self) -> Result<Value, UpstreamError> {
        let mut url = self
            .nats_monitor
            .join("/jsz")
            .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        url.set_query(Some("consumers=true&config=true&limit=100000"));
        let unreachable = |e: reqwest::Error| {
            UpstreamError::Unreachable(format!("NATS monitoring {}: {e}", self.nats_monitor))
        };
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        response.json().await.map_err(unreachable)
    }
}

/// The sum of every series of metric `name` (with or without the `paymsa_` prefix the
/// services' registries add, libs/service-kit/src/metrics.rs); `None` when there is none.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    let prefixed = format!("paymsa_{name}");
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let series = line.split(['{', ' ']).next().unwrap_or_default();
        if series != name && series != prefixed {
            continue;
        }
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_series_are_summed_by_name() {
        let text = "# HELP paymsa_outbox_backlog x\npaymsa_outbox_backlog{service=\"a\"} 3\n\
                    paymsa_outbox_backlog_other 9\noutbox_backlog 2\n";
        assert_eq!(metric(text, "outbox_backlog"), Some(5.0));
        assert_eq!(metric(text, "missing"), None);
    }
}
