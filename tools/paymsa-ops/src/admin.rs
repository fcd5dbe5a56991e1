//! The services' admin API on the local stack (GET /admin/dead-letters…, bearer `ADMIN_TOKEN`,
//! default `paymsa-local-admin`, the development token `just up` starts the services with;
//! scripts/up.sh). Services and ports come from deploy/services.table; the ones asked about dead
//! letters are those with durable consumers (libs/messaging/src/access.rs).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::Value;
use service_kit::stack_table;

/// The services that run consumers, hence a dead-letter worker and `/admin/dead-letters`; in
/// the order of deploy/services.table.
pub fn dead_letter_services() -> Vec<&'static stack_table::ServiceRow> {
    stack_table::SERVICES
        .iter()
        .filter(|row| messaging::access::service(row.name).is_some_and(|a| !a.consumers.is_empty()))
        .collect()
}

/// What a service answered: status, body (JSON, `null` when it was not JSON), the raw text and
/// how long it took.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub took: Duration,
}

impl Answer {
    /// A problem+json's code and detail (or title), else the body's start
    /// (scripts/demo-lib.sh `problem_of`).
    pub fn problem(&self) -> String {
        problem_of(&self.body, &self.text)
    }
}

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

pub struct Admin {
    http: reqwest::Client,
    token: String,
}

impl Admin {
    pub fn from_env() -> anyhow::Result<Self> {
        service_kit::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()?;
        let token =
            std::env::var("ADMIN_TOKEN").unwrap_or_else(|_| "paymsa-local-admin".to_string());
        Ok(Self { http, token })
    }

    pub fn url(service: &str, path: &str) -> anyhow::Result<String> {
        let row = stack_table::get(service)
            .ok_or_else(|| anyhow!("deploy/services.table has no {service}"))?;
        Ok(format!("{}{path}", row.local_url()))
    }

    /// `GET` or `POST` (no body) with the admin token; an unreachable service is an error.
    pub async fn call(&self, post: bool, service: &str, path: &str) -> anyhow::Result<Answer> {
        let url = Self::url(service, path)?;
        let method = if post { "POST" } else { "GET" };
        let request = if post {
            self.http.post(&url)
        } else {
            self.http.get(&url)
        };
        let started = Instant::now();
        let response = match request
            .bearer_auth(&self.token)
            .header("accept", "application/json")
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if e.is_connect() => bail!(
                "{method} {url}: connection refused — is the stack up? (just up; just status)"
            ),
            Err(e) if e.is_timeout() => bail!("{method} {url}: no answer within 15 s"),
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

/// A service's dead letter `id` (a number): the service that has it and its detail; asks every
/// service with consumers.
pub async fn find_dead_letter(admin: &Admin, id: &str) -> anyhow::Result<(&'static str, Value)> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("not a dead-letter id: {id} (the ids are numbers; list them with: just dlq)");
    }
    for row in dead_letter_services() {
        let answer = admin
            .call(false, row.name, &format!("/admin/dead-letters/{id}"))
            .await?;
        match answer.status {
            200 => return Ok((row.name, answer.body)),
            404 => {}
            401 => bail!(
                "{} answered 401: the services run with another ADMIN_TOKEN (set ADMIN_TOKEN)",
                row.name
            ),
            status => bail!(
                "{}: GET /admin/dead-letters/{id} answered {status}: {}",
                row.name,
                answer.problem()
            ),
        }
    }
    bail!("no service has dead letter {id} (list them with: just dlq)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_services_with_consumers_are_asked_in_table_order() {
        let names: Vec<&str> = dead_letter_services().iter().map(|r| r.name).collect();
        assert!(names.contains(&"wallet-service") && names.contains(&"hot-catalog-service"));
        assert!(!names.contains(&"catalog-like-service") && !names.contains(&"psp-sandbox"));
        assert_eq!(names.first(), Some(&"order-service"));
    }

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
