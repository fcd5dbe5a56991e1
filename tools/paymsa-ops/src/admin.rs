//! The services' admin API on the local stack (GET /admin/dead-letters…, bearer `ADMIN_TOKEN`,
//! default `paymsa-local-admin`, the development token `just up` starts the services with;
//! scripts/up.sh). Services and ports come from deploy/services.table; the ones asked about dead
//! letters are those with durable consumers (libs/messaging/src/access.rs).

use anyhow::bail;
use reqwest::Method;
use serde_json::Value;
use service_kit::stack_table;

use crate::http::{self, Client};

/// The services that run consumers, hence a dead-letter worker and `/admin/dead-letters`; in
/// the order of deploy/services.table.
pub fn dead_letter_services() -> Vec<&'static stack_table::ServiceRow> {
    stack_table::SERVICES
        .iter()
        .filter(|row| messaging::access::service(row.name).is_some_and(|a| !a.consumers.is_empty()))
        .collect()
}

pub use crate::http::Answer;

pub struct Admin {
    client: Client,
    token: String,
}

/// The services' admin token: `ADMIN_TOKEN`, default the development token of scripts/up.sh.
pub fn token_from_env() -> String {
    std::env::var("ADMIN_TOKEN").unwrap_or_else(|_| "paymsa-local-admin".to_string())
}

impl Admin {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            client: Client::new()?,
            token: token_from_env(),
        })
    }

    pub fn new(client: Client, token: String) -> Self {
        Self { client, token }
    }

    pub fn url(service: &str, path: &str) -> anyhow::Result<String> {
        http::url(service, path)
    }

    /// `GET` or `POST` (no body) with the admin token; an unreachable service is an error.
    pub async fn call(&self, post: bool, service: &str, path: &str) -> anyhow::Result<Answer> {
        let method = if post { Method::POST } else { Method::GET };
        self.client
            .send(method, service, path, None, Some(&self.token))
            .await
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

    #[test]
    fn the_services_with_consumers_are_asked_in_table_order() {
        let names: Vec<&str> = dead_letter_services().iter().map(|r| r.name).collect();
        assert!(names.contains(&"wallet-service") && names.contains(&"hot-catalog-service"));
        assert!(!names.contains(&"catalog-like-service") && !names.contains(&"psp-sandbox"));
        assert_eq!(names.first(), Some(&"order-service"));
    }
}
