//! A client for the Toss Payments confirm API (the sandbox speaks the same API), with
//! timeouts and the classification the state machine needs: approved, declined for good,
//! or an outcome we do not know yet.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

/// Toss' Payment object, the fields we use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPayment {
    pub payment_key: String,
    pub order_id: String,
    pub status: String,
    pub total_amount: Decimal,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TossErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// What a PSP call told us.
#[derive(Debug, Clone)]
pub enum PspOutcome {
    /// The payment is DONE (status and amount still to be checked by the caller).
    Approved(TossPayment, serde_json::Value),
    /// The PSP says this payment was already confirmed: look it up.
    AlreadyProcessed,
    /// A final refusal (card rejected, limits, invalid request): never retried.
    Declined { code: String, message: String },
    /// The PSP failed or did not answer: the outcome is UNKNOWN until recovery finds out.
    Unknown { reason: String },
}

/// Error codes Toss documents as transient: the same request may succeed later.
const RETRYABLE_CODES: &[&str] = &[
    "PROVIDER_ERROR",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR",
    "UNKNOWN",
    "FAILED_CARD_COMPANY_RESPONSE",
    "CARD_PROCESSING_ERROR",
    // The PSP is still processing the same Idempotency-Key: the outcome is not known yet.
    "IDEMPOTENT_REQUEST_PROCESSING",
];

pub fn is_retryable(code: &str, http_status: u16) -> bool {
    RETRYABLE_CODES.contains(&code)
        || http_status >= 500
        || http_status == 429
        || http_status == 409
}

#[derive(Clone)]
pub struct TossClient {
    http: reqwest::Client,
    base_url: String,
    authorization: String,
}

impl TossClient {
    pub fn new(base_url: &str, secret_key: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"));
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            authorization: format!("Basic {token}"),
        })
    }

    /// `POST /v1/payments/confirm` with `Idempotency-Key = orderId`, so a retried confirm can
    /// never charge twice.
    pub async fn confirm(&self, payment_key: &str, order_id: &str, amount: Decimal) -> PspOutcome {
        let body = serde_json::json!({
            "paymentKey": payment_key,
            "orderId": order_id,
            // Toss expects a JSON number (KRW are whole numbers).
            "amount": serde_json::from_str::<serde_json::Value>(&amount.normalize().to_string())
                .unwrap_or_default(),
        });
        let request = self
            .http
            .post(format!("{}/v1/payments/confirm", self.base_url))
            .header("Authorization", &self.authorization)
            .header("Idempotency-Key", order_id)
            .json(&body);
        classify(request.send().await).await
    }

    /// `GET /v1/payments/orders/{orderId}`: what the PSP knows of the order, if anything.
    pub async fn find_by_order_id(&self, order_id: &str) -> PspOutcome {
        let request = self
            .http
            .get(format!("{}/v1/payments/orders/{order_id}", self.base_url))
            .header("Authorization", &self.authorization);
        classify(request.send().await).await
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
            Ok(payment) => PspOutcome::Approved(payment, raw),
            Err(e) => PspOutcome::Unknown {
                reason: format!("PSP_UNREADABLE_RESPONSE: {e}"),
            },
        };
    }
    let error: TossErrorBody = serde_json::from_str(&text).unwrap_or(TossErrorBody {
        code: format!("HTTP_{status}"),
        message: String::new(),
    });
    if error.code == "ALREADY_PROCESSED_PAYMENT" {
        PspOutcome::AlreadyProcessed
    } else if is_retryable(&error.code, status) {
        PspOutcome::Unknown { reason: error.code }
    } else {
        PspOutcome::Declined {
            code: error.code,
            message: error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_retryable;

    #[test]
    fn transient_codes_and_server_errors_are_retryable_declines_are_not() {
        assert!(is_retryable("PROVIDER_ERROR", 400));
        assert!(is_retryable("ANYTHING", 503));
        assert!(!is_retryable("REJECT_CARD_PAYMENT", 403));
        assert!(!is_retryable("INVALID_STOPPED_CARD", 403));
    }
}
