//! HTTP calls as a shopper's browser and the marketplace's back office make them, with the
//! retries a real client makes while an instance is down: a refused connection or a 5xx is
//! sent again (with the same `Idempotency-Key` where the API takes one) until `patience` runs
//! out. 4xx answers are final, except a checkout key still in flight. Each request is made as
//! someone ([`Who`]); in jwt mode it carries that identity's bearer token (crate::identity).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

pub use crate::identity::Who;
use crate::{identity::Identities, stack::Stack};

/// The base URLs of every service of a stack; requests to a service with several instances
/// go round-robin.
#[derive(Clone)]
pub struct Endpoints {
    services: Vec<(&'static str, Vec<String>)>,
}

impl Endpoints {
    pub fn of(stack: &Stack) -> Self {
        let services = crate::stack::SERVICES
            .iter()
            .map(|d| (d.name, stack.urls(d.name)))
            .collect();
        Self { services }
    }

    pub fn base(&self, service: &str, turn: usize) -> &str {
        self.services
            .iter()
            .find(|(n, _)| *n == service)
            .map(|(_, urls)| urls[turn % urls.len()].as_str())
            .unwrap_or("http://127.0.0.1:9")
    }
}

/// The final answer to a request: status and JSON body (`Null` if none).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// Earlier tries that reached a server and got no HTTP answer (the connection dropped
    /// or timed out; a refused connection does not count): such a request may have been cut
    /// off by its instance's death half-way through its work.
    pub unanswered: u32,
}

impl Answer {
    /// The problem+json `code` of an error answer.
    pub fn code(&self) -> String {
        self.body["code"].as_str().unwrap_or("").to_string()
    }

    /// 409 PAYMENT_IN_PROGRESS to a retry of a confirm whose earlier try got no answer: that
    /// try started an attempt and its instance died during the PSP call; the attempt stays
    /// EXECUTING until the recovery job settles it. Anything else answering "in progress" to
    /// a lone confirm would be a defect.
    pub fn in_progress_after_a_lost_try(&self) -> bool {
        self.status == 409 && self.code() == "PAYMENT_IN_PROGRESS" && self.unanswered > 0
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub endpoints: Endpoints,
    /// How long to keep retrying a refused connection or a 5xx.
    pub patience: Duration,
    /// The tokens of the stack's auth mode.
    pub identities: Arc<Identities>,
    turn: Arc<AtomicUsize>,
}

impl Client {
    /// A client of every service of `stack`, retrying for up to `patience`.
    pub fn for_stack(stack: &Stack, patience: Duration) -> Self {
        Self::new(
            stack.http.clone(),
            Endpoints::of(stack),
            patience,
            stack.identities.clone(),
        )
    }

    pub fn new(
        http: reqwest::Client,
        endpoints: Endpoints,
        patience: Duration,
        identities: Arc<Identities>,
    ) -> Self {
        Self {
            http,
            endpoints,
            patience,
            identities,
            turn: Default::default(),
        }
    }

    /// [`call_as`](Self::call_as) without a token.
    pub async fn call(
        &self,
        service: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        self.call_as(Who::Anyone, service, method, path, body, headers)
            .await
    }

    /// Sends `method path` to `service` as `who` with an optional JSON body and headers,
    /// retrying transport errors and 5xx; `Err` only once patience ran out.
    pub async fn call_as(
        &self,
        who: Who,
        service: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let authorization = self.identities.authorization(who)?;
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        let mut unanswered = 0;
        loop {
            let turn = self.turn.fetch_add(1, Ordering::Relaxed);
            let url = format!("{}{path}", self.endpoints.base(service, turn));
            let mut request: RequestBuilder = self.http.request(method.clone(), url);
            if let Some(body) = body {
                request = request.json(body);
            }
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            if let Some(value) = &authorization {
                request = request.header(reqwest::header::AUTHORIZATION, &**value);
            }
            let last_error = match request.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.text().await.unwrap_or_default();
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    // A checkout whose first attempt died with its instance holds its key
                    // until the claim lease ends; clients retry it like a 503.
                    let in_flight = status == 409 && body["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT";
                    if status < 500 && !in_flight {
                        return Ok(Answer {
                            status,
                            body,
                            unanswered,
                        });
                    }
                    format!("{status} {text}")
                }
                Err(e) => {
                    // A refused connection never reached a server; anything later (reset
                    // mid-request, timed out) may have started the work.
                    if !e.is_connect() {
                        unanswered += 1;
                    }
                    e.to_string()
                }
            };
            if started.elapsed() > self.patience {
                anyhow::bail!(
                    "{method} {service}{path}: gave up after {:?}: {last_error}",
                    self.patience
                );
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    pub async fn post(&self, service: &str, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.call(service, Method::POST, path, Some(body), &[])
            .await
    }

    pub async fn get(&self, service: &str, path: &str) -> anyhow::Result<Answer> {
        self.call(service, Method::GET, path, None, &[]).await
    }

    pub async fn post_as(
        &self,
        who: Who,
        service: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Answer> {
        self.call_as(who, service, Method::POST, path, Some(body), &[])
            .await
    }

    pub async fn get_as(&self, who: Who, service: &str, path: &str) -> anyhow::Result<Answer> {
        self.call_as(who, service, Method::GET, path, None, &[])
            .await
    }
}
