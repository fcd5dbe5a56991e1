//! HTTP to the services of the local stack (ports of deploy/services.table through
//! service_kit::stack_table): one request, its answer read whole and timed. The admin API
//! ([`crate::admin`]) and the demo's flows ([`crate::demo`]) share it; it does not retry (the
//! demo polls where a step is eventual, and a report should say what the stack answered).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use reqwest::Method;
use serde_json::Value;
use service_kit::stack_table;

/// How long one request may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What a service answered: status, body (JSON, `null` when it was not JSON), the raw text and
/// how long it took.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub took: Duration,
}

impl Answer {
    /// A problem+json's code and detail (or title), else the body's start.
    pub fn problem(&self) -> String {
        problem_of(&self.body, &self.text)
    }

    /// The body as `T`; an answer without the fields a step reads is an error quoting it.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        T::deserialize(&self.body).with_context(|| {
            let start: String = self.text.chars().take(300).collect();
            format!("unexpected answer ({}): {start}", self.status)
        })
    }

    /// The problem's `code` alone (the first word of [`Answer::problem`]).
    pub fn code(&self) -> String {
        let problem = self.problem();
        problem.split(' ').next().unwrap_or_default().to_string()
    }
}

/// A problem+json's code and detail (or title), else the body's start.
pub fn problem_of(body: &Value, text: &str) -> String {
    let start = || {
        let start: String = text.chars().take(300).collect();
        if start.is_empty() {
            "(empty body)".to_string()
        } else {
            start
        }
    };
    if !body.is_object() {
        return start();
    }
    let field = |k: &str| match body.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Null | Value::Bool(false)) | None => None,
        Some(Value::String(_)) => None,
        Some(other) => Some(other.to_string()),
    };
    let parts: Vec<String> = [field("code"), field("detail").or_else(|| field("title"))]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        text.chars().take(300).collect()
    } else {
        parts.join(" ")
    }
}

/// `http://127.0.0.1:<port><path>` of a service of deploy/services.table.
pub fn url(service: &str, path: &str) -> anyhow::Result<String> {
    let row = stack_table::get(service)
        .ok_or_else(|| anyhow!("deploy/services.table has no {service}"))?;
    Ok(format!("{}{path}", row.local_url()))
}

/// `:<port><path>`: how the demo's lines and `just replay` show a request.
pub fn shown_path(service: &str, path: &str) -> String {
    let port = stack_table::get(service).map_or(0, |row| row.port);
    format!(":{port}{path}")
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    pub fn new() -> anyhow::Result<Self> {
        service_kit::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(Self { http })
    }

    /// Whether `service` answers `GET /health/ready` with a 2xx within 3 s.
    pub async fn ready(&self, service: &str) -> bool {
        let Ok(url) = url(service, "/health/ready") else {
            return false;
        };
        let request = self.http.get(url).timeout(Duration::from_secs(3));
        matches!(request.send().await, Ok(r) if r.status().is_success())
    }

    /// `method path` to `service` with an optional JSON body and bearer token; any status is
    /// an answer, an unreachable service is an error that says so.
    pub async fn send(
        &self,
        method: Method,
        service: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let url = url(service, path)?;
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() => bail!(
                "{method} {url}: connection refused — is the stack up? (just up; just status)"
            ),
            Err(e) if e.is_timeout() => {
                bail!("{method} {url}: no answer within {} s", TIMEOUT.as_secs())
            }
            Err(e) => return Err(anyhow!(e).context(format!("{method} {url}"))),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            took: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_problem_reads_as_code_and_detail() {
        let body =
            json!({"code": "DEAD_LETTER_REPLAY_FAILED", "detail": "failed again", "title": "t"});
        assert_eq!(
            problem_of(&body, ""),
            "DEAD_LETTER_REPLAY_FAILED failed again"
        );
        assert_eq!(problem_of(&json!({"title": "Not Found"}), ""), "Not Found");
        assert_eq!(problem_of(&json!({}), "{}"), "{}");
        assert_eq!(problem_of(&Value::Null, "<html>"), "<html>");
        assert_eq!(problem_of(&Value::Null, ""), "(empty body)");
    }
}
