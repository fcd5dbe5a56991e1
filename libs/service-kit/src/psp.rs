//! The HTTP connection to the PSP (the Toss Payments API, or psp-sandbox which speaks it): one
//! client with timeouts and Toss's authentication (`Basic base64(secretKey + ":")`), shared by
//! order-service's payments (services/order-service/src/psp/) and wallet-service's payouts
//! (services/wallet-service/src/payouts/psp.rs), so both talk to the PSP the same way.

use std::time::Duration;

use base64::Engine;
use tracing::Instrument;

use crate::trace::{self, TRACEPARENT};

#[derive(Clone)]
pub struct PspConnection {
    http: reqwest::Client,
    base_url: String,
    authorization: String,
}

impl PspConnection {
    /// `timeout` bounds a whole call; connecting gets at most 2 s of it.
    pub fn new(
        base_url: &str,
        secret_key: &str,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2).min(timeout))
            .build()?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"));
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            authorization: format!("Basic {token}"),
        })
    }

    /// `GET {base}{path}`, authenticated.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base_url))
            .header("Authorization", &self.authorization)
    }

    /// `POST {base}{path}`, authenticated.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base_url))
            .header("Authorization", &self.authorization)
    }

    /// Sends `request` in a client span named after `operation` (`psp confirm`), a child of
    /// the current unit of work, whose context goes along as `traceparent`: with span export
    /// on, the call and the PSP's own handling of it (psp-sandbox) sit in the payment's trace.
    pub async fn send(
        &self,
        operation: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let span = tracing::info_span!(
            "psp",
            otel.kind = "client",
            otel.name = %format!("psp {operation}"),
            operation,
            status = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        let ctx = trace::begin_child(&span);
        let sent = request
            .header(TRACEPARENT, ctx.traceparent())
            .send()
            .instrument(span.clone())
            .await;
        match &sent {
            Ok(resp) => {
                span.record("status", resp.status().as_u16());
                if resp.status().is_server_error() {
                    trace::fail(&span, format!("answered {}", resp.status()));
                }
            }
            Err(e) => trace::fail(&span, e.to_string()),
        }
        sent
    }
}
