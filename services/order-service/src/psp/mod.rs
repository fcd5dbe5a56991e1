//! A client for the Toss Payments API v1 (the sandbox speaks the same API): confirm, lookup
//! by orderId, cancel, and the transaction list reconciliation reads. Timeouts everywhere;
//! answers are classified by [`outcome`].

mod outcome;
mod status;

use std::time::Duration;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde::Deserialize;

use outcome::{classify_error, TossErrorBody};
pub use outcome::{PspOutcome, TossCancel, TossPayment};
pub use status::PspPaymentStatus;

/// One entry of `GET /v1/transactions`: a charge (status DONE) or a cancel.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossTransaction {
    pub transaction_key: String,
    pub payment_key: String,
    pub order_id: String,
    pub status: String,
    /// `2024-02-13T12:18:14+09:00`
    pub transaction_at: String,
    pub amount: Decimal,
}

#[derive(Debug, thiserror::Error)]
#[error("the PSP's transaction list is not available: {0}")]
pub struct TransactionsUnavailable(#[source] reqwest::Error);

#[derive(Clone)]
pub struct PspClient {
    psp: service_kit::psp::PspConnection,
    /// `psp_request_duration_seconds{operation, outcome}`.
    latency: Option<prometheus::HistogramVec>,
    /// Each call's limit (`PSP_TIMEOUT_MS`).
    timeout: Duration,
}

/// Toss expects amounts as JSON numbers (KRW are whole numbers).
fn json_amount(amount: Decimal) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(&amount.normalize().to_string()).unwrap_or_default()
}

impl PspClient {
    pub fn new(
        base_url: &str,
        secret_key: &str,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            psp: service_kit::psp::PspConnection::new(base_url, secret_key, timeout)?,
            latency: None,
            timeout,
        })
    }

    /// Each call's limit (`PSP_TIMEOUT_MS`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Observes every call's latency and outcome in `psp_request_duration_seconds`.
    pub fn with_metrics(mut self, metrics: &service_kit::Metrics) -> Self {
        self.latency = Some(metrics.histogram_vec(
            "psp_request_duration_seconds",
            "PSP call latency by operation and outcome (ANSWERED, DECLINED, REJECTED, UNKNOWN, …)",
            &["operation", "outcome"],
        ));
        self
    }

    async fn timed(&self, operation: &str, request: reqwest::RequestBuilder) -> PspOutcome {
        let started = std::time::Instant::now();
        let outcome = classify(self.psp.send(operation, request).await).await;
        if let Some(latency) = &self.latency {
            let label = match &outcome {
                PspOutcome::Answered(..) => "ANSWERED",
                PspOutcome::AlreadyProcessed => "ALREADY_PROCESSED",
                PspOutcome::Declined { .. } => "DECLINED",
                PspOutcome::Rejected { .. } => "REJECTED",
                PspOutcome::Credentials { .. } => "CREDENTIALS",
                PspOutcome::Unknown { .. } => "UNKNOWN",
            };
            latency
                .with_label_values(&[operation, label])
                .observe(started.elapsed().as_secs_f64());
        }
        outcome
    }

    /// `POST /v1/payments/confirm`. The Idempotency-Key is `orderId:paymentKey:attemptNo`:
    /// one key per attempt (the fencing token written with EXECUTING), so an attempt that
    /// follows an answered error asks afresh even where the PSP keeps error answers for their
    /// key — Toss promises "the same result as the first request" without saying whether an
    /// error is one, and a kept PROVIDER_ERROR would otherwise be replayed to every retry until
    /// the approval expired. No key can charge twice: the PSP confirms a payment at most once,
    /// and a confirm under a new key after a charge is answered ALREADY_PROCESSED_PAYMENT (then
    /// looked up) or, while the first still runs, 409 (unknown) — recovery also looks up before
    /// it confirms again (recovery.rs), a customer's repeated confirm does not. A key made up
    /// by a client (a bogus paymentKey) cannot poison the one the real approval will use.
    pub async fn confirm(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: Decimal,
        attempt_no: i64,
    ) -> PspOutcome {
        let body = serde_json::json!({
            "paymentKey": payment_key,
            "orderId": order_id,
            "amount": json_amount(amount),
        });
        let request = self
            .psp
            .post("/v1/payments/confirm")
            .header(
                "Idempotency-Key",
                format!("{order_id}:{payment_key}:{attempt_no}"),
            )
            .json(&body);
        self.timed("confirm", request).await
    }

    /// `GET /v1/payments/orders/{orderId}`: what the PSP knows of the order, if anything.
    pub async fn find_by_order_id(&self, order_id: &str) -> PspOutcome {
        let request = self.psp.get(&format!("/v1/payments/orders/{order_id}"));
        self.timed("lookup", request).await
    }

    /// `POST /v1/payments/{paymentKey}/cancel`; `amount: None` cancels the whole balance.
    /// The same `idempotency_key` makes a repeated call return the first answer.
    pub async fn cancel(
        &self,
        payment_key: &str,
        reason: &str,
        amount: Option<Decimal>,
        idempotency_key: &str,
    ) -> PspOutcome {
        let mut body = serde_json::json!({ "cancelReason": reason });
        if let Some(amount) = amount {
            body["cancelAmount"] = json_amount(amount);
        }
        let request = self
            .psp
            .post(&format!("/v1/payments/{payment_key}/cancel"))
            .header("Idempotency-Key", idempotency_key)
            .json(&body);
        self.timed("cancel", request).await
    }

    /// Every transaction (charges and cancels) between the two KST local times, all pages,
    /// handed to `each` page by page: an hour's window is folded, never held whole.
    pub async fn transactions(
        &self,
        start: NaiveDateTime,
        end: NaiveDateTime,
        mut each: impl FnMut(TossTransaction),
    ) -> Result<(), TransactionsUnavailable> {
        const PAGE: usize = 1000;
        let fmt = "%Y-%m-%dT%H:%M:%S";
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![
                ("startDate", start.format(fmt).to_string()),
                ("endDate", end.format(fmt).to_string()),
                ("limit", PAGE.to_string()),
            ];
            if let Some(last) = after.take() {
                query.push(("startingAfter", last));
            }
            // A page is ~1,000 transactions, a few hundred KiB: the connection that carries it
            // keeps buffers that size on both ends (hyper keeps a buffer's capacity) for as
            // long as it stays pooled. Every minute's read landed on some pooled connection
            // or other, and order-service and the sandbox grew by about 1 MiB a minute
            // (docs/benchmarks.md, stop 20). The list's connection is closed after each page
            // instead; confirms and lookups keep theirs.
            let request = self
                .psp
                .get("/v1/transactions")
                .query(&query)
                .header(reqwest::header::CONNECTION, "close");
            let resp = self
                .psp
                .send("transactions", request)
                .await
                .and_then(|r| r.error_for_status())
                .map_err(TransactionsUnavailable)?;
            let page: Vec<TossTransaction> = resp.json().await.map_err(TransactionsUnavailable)?;
            let done = page.len() < PAGE;
            after = page.last().map(|t| t.transaction_key.clone());
            page.into_iter().for_each(&mut each);
            if done {
                return Ok(());
            }
        }
    }
}

async fn classify(sent: Result<reqwest::Response, reqwest::Error>) -> PspOutcome {
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) if e.is_timeout() => {
            return PspOutcome::Unknown {
                reason: "PSP_TIMEOUT".into(),
            }
        }
        // The request could not even be built (a header value with a control character):
        // nothing left this process, so nothing can have been charged.
        Err(e) if e.is_builder() => {
            return PspOutcome::Rejected {
                code: "INVALID_REQUEST".into(),
                message: format!("the request to the PSP could not be built: {e}"),
            }
        }
        Err(e) => {
            return PspOutcome::Unknown {
                reason: format!("PSP_UNREACHABLE: {e}"),
            }
        }
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(text) => text,
        Err(e) => {
            return PspOutcome::Unknown {
                reason: format!("PSP_BODY_LOST: {e}"),
            }
        }
    };
    if (200..300).contains(&status) {
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return match serde_json::from_value::<TossPayment>(raw.clone()) {
            Ok(payment) => PspOutcome::Answered(payment, raw),
            Err(e) => PspOutcome::Unknown {
                reason: format!("PSP_UNREADABLE_RESPONSE: {e}"),
            },
        };
    }
    let error: TossErrorBody = serde_json::from_str(&text).unwrap_or(TossErrorBody {
        code: format!("HTTP_{status}"),
        message: String::new(),
    });
    classify_error(error.code, error.message, status)
}
