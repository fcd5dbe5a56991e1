//! `POST /webhooks/toss`: the PSP's payment and cancel webhooks (`PAYMENT_STATUS_CHANGED`,
//! `CANCEL_STATUS_CHANGED`). Toss does not sign these, so nothing in the body is trusted: the
//! body only says *which* order to look at, and the recovery job then asks the PSP itself, under
//! the same fencing as every other attempt (docs/payments.md). A webhook and the recovery tick
//! therefore converge on one outcome in either order, and forged or replayed webhooks cost at
//! most one lookup per order every 10 s (a cancel: one call per `RECOVERY_STALE_MS`, at least
//! 10 s), of an order that was unresolved anyway. The answer is 200 as soon as the order is
//! marked due (one short write), so the PSP never retries because we were slow.

use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;
use service_kit::ApiError;

use crate::{payments::Payments, store};

#[derive(Tags)]
enum WebhookTag {
    /// Notifications from the PSP.
    Webhooks,
}

/// A Toss webhook: `{eventType, createdAt, data}`; only `data.orderId` is read.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct TossWebhook {
    #[oai(deserialize_with = "service_kit::strict::json_string")]
    pub event_type: String,
    #[oai(nullable, deserialize_with = "service_kit::strict::json_opt_string")]
    pub created_at: Option<String>,
    /// The Payment (or cancel) the event is about; untrusted.
    pub data: std::collections::HashMap<String, Value>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct WebhookAccepted {
    /// `LOOKUP_SCHEDULED` (the order or its cancel will be looked up at the PSP: now, or once
    /// the per-order gap has passed), or `IGNORED` (nothing of ours is waiting for the PSP — a
    /// final order, an unknown order — or a lookup is due no later than this webhook would
    /// make it: an order's, e.g. by an earlier webhook; a cancel's, sooner).
    pub result: String,
}

#[derive(ApiResponse)]
enum WebhookResponse {
    /// Received; the work happens through the recovery job.
    #[oai(status = 200)]
    Ok(Json<WebhookAccepted>),
}

#[derive(Clone)]
pub struct WebhookApi {
    pub payments: Payments,
}

#[OpenApi(tag = "WebhookTag::Webhooks")]
impl WebhookApi {
    /// Receive a Toss payment or cancel webhook.
    ///
    /// The body is not trusted: an UNKNOWN payment or an open cancel of the named order is made
    /// due for the recovery job, which asks the PSP. Answers 200 at once.
    #[oai(
        path = "/webhooks/toss",
        method = "post",
        operation_id = "toss_webhook"
    )]
    async fn receive(&self, body: Json<TossWebhook>) -> Result<WebhookResponse, ApiError> {
        let Some(order_id) = body.0.data.get("orderId").and_then(Value::as_str) else {
            return Ok(ignored());
        };
        if order_id.is_empty() || order_id.len() > 64 {
            return Ok(ignored());
        }
        // Paid or failed by this process: make_due_now would change nothing (final_orders.rs).
        if body.0.event_type == "PAYMENT_STATUS_CHANGED"
            && self.payments.final_orders.contains(order_id)
        {
            return Ok(ignored());
        }
        let mut conn = self.payments.pool.acquire().await?;
        let due = match body.0.event_type.as_str() {
            "PAYMENT_STATUS_CHANGED" => store::recovery::make_due_now(&mut conn, order_id).await?,
            "CANCEL_STATUS_CHANGED" => {
                let stale = self.payments.stale_after.as_secs_f64();
                store::cancels::make_due_now(&mut conn, order_id, stale).await?
            }
            _ => None,
        };
        drop(conn);
        let Some(due) = due else {
            return Ok(ignored());
        };
        // Wake the recovery job when the lookup is due (now, or after the per-order gap).
        let wake = self.payments.recovery_wake.clone();
        let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            wake.notify_one();
        });
        tracing::info!(%order_id, event = %body.0.event_type, %due, "PSP webhook: the order will be looked up");
        Ok(WebhookResponse::Ok(Json(WebhookAccepted {
            result: "LOOKUP_SCHEDULED".into(),
        })))
    }
}

fn ignored() -> WebhookResponse {
    WebhookResponse::Ok(Json(WebhookAccepted {
        result: "IGNORED".into(),
    }))
}
