//! Sandbox controls for payouts and webhooks: per-refPayoutId payout faults, the webhook
//! receivers, and the delivery log. paymsa endpoints, so errors are problem+json; like the
//! rest of `/sandbox`, unauthenticated.

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};
use serde_json::Value;
use service_kit::{ApiError, FieldError};

use crate::{
    payment::{kst, toss_time},
    payout_faults::{PayoutFaultRequest, PayoutFaultView},
    sandbox_api::SandboxTag,
    settings::check_url,
    state::Sandbox,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct WebhookUrls {
    /// Receivers of every webhook from now on (http(s) URLs); `[]` turns webhooks off.
    #[oai(validator(max_items = 20))]
    pub urls: Vec<String>,
}

/// One webhook delivery (one event to one URL).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Delivery {
    pub id: i64,
    pub event_type: String,
    pub url: String,
    /// PENDING (waiting for its next attempt), DELIVERED (a 2xx) or FAILED (retries used up).
    pub status: String,
    /// POSTs made so far.
    pub attempts: i32,
    /// HTTP status of the last attempt.
    #[oai(nullable)]
    pub last_status: Option<i32>,
    /// Why the last attempt failed.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// Whether it carries Toss's signature headers (`payout.changed`).
    pub signed: bool,
    pub created_at: String,
    /// PENDING: when it is tried next.
    pub next_attempt_at: String,
    #[oai(nullable)]
    pub delivered_at: Option<String>,
    /// The body POSTed, as JSON.
    pub body: Value,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Deliveries {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
}

#[derive(ApiResponse)]
enum Removed {
    /// Done (also when there was nothing to remove).
    #[oai(status = 204)]
    NoContent,
}

pub struct ControlsApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "SandboxTag::Sandbox")]
impl ControlsApi {
    /// Set a fault for the next payout requests naming a refPayoutId.
    ///
    /// `fail`: the payout is created and settled FAILED with `errorCode` (default
    /// `INVALID_BANK_ACCOUNT`); `timeout`: created, reply stored, answer held `timeoutMs`;
    /// `error`: answered with the Toss error `errorCode` (default 500
    /// `FAILED_INTERNAL_SYSTEM_PROCESSING`), nothing created.
    #[oai(
        path = "/sandbox/faults/payouts/:refPayoutId",
        method = "put",
        operation_id = "put_payout_fault"
    )]
    async fn put_payout_fault(
        &self,
        #[oai(name = "refPayoutId")] ref_payout_id: Path<String>,
        body: Json<PayoutFaultRequest>,
    ) -> Result<Json<PayoutFaultView>, ApiError> {
        let mut memory = self.sandbox.memory();
        let timeout_ms = memory.faults.current().timeout_ms;
        memory
            .payout_faults
            .set(&ref_payout_id.0, body.0, timeout_ms)
            .map(Json)
            .map_err(|(field, message)| ApiError::validation(vec![FieldError { field, message }]))
    }

    /// The pending fault of a refPayoutId.
    #[oai(
        path = "/sandbox/faults/payouts/:refPayoutId",
        method = "get",
        operation_id = "get_payout_fault"
    )]
    async fn get_payout_fault(
        &self,
        #[oai(name = "refPayoutId")] ref_payout_id: Path<String>,
    ) -> Result<Json<PayoutFaultView>, ApiError> {
        match self.sandbox.memory().payout_faults.get(&ref_payout_id.0) {
            Some(fault) => Ok(Json(fault)),
            None => Err(ApiError::not_found(
                "NO_PAYOUT_FAULT",
                format!("no pending fault for refPayoutId {}", ref_payout_id.0),
            )),
        }
    }

    /// Removes the pending fault of a refPayoutId.
    #[oai(
        path = "/sandbox/faults/payouts/:refPayoutId",
        method = "delete",
        operation_id = "delete_payout_fault"
    )]
    async fn delete_payout_fault(
        &self,
        #[oai(name = "refPayoutId")] ref_payout_id: Path<String>,
    ) -> Result<Removed, ApiError> {
        self.sandbox.memory().payout_faults.remove(&ref_payout_id.0);
        Ok(Removed::NoContent)
    }

    /// The webhook receivers in force.
    #[oai(
        path = "/sandbox/webhooks",
        method = "get",
        operation_id = "get_webhooks"
    )]
    async fn get_webhooks(&self) -> Json<WebhookUrls> {
        let urls = self.sandbox.memory().webhook_urls.clone();
        Json(WebhookUrls { urls })
    }

    /// Replaces the webhook receivers (events already queued keep their URLs).
    #[oai(
        path = "/sandbox/webhooks",
        method = "put",
        operation_id = "put_webhooks"
    )]
    async fn put_webhooks(&self, body: Json<WebhookUrls>) -> Result<Json<WebhookUrls>, ApiError> {
        let mut urls = Vec::with_capacity(body.0.urls.len());
        for (i, raw) in body.0.urls.iter().enumerate() {
            let url = check_url(raw.trim()).map_err(|message| {
                ApiError::validation(vec![FieldError {
                    field: format!("urls[{i}]"),
                    message,
                }])
            })?;
            urls.push(url);
        }
        self.sandbox.memory().webhook_urls = urls.clone();
        Ok(Json(WebhookUrls { urls }))
    }

    /// Recent webhook deliveries with their status and attempts, newest first.
    #[oai(
        path = "/sandbox/webhooks/deliveries",
        method = "get",
        operation_id = "list_webhook_deliveries"
    )]
    async fn deliveries(
        &self,
        /// At most this many (default 100, 1–1000).
        limit: Query<Option<u32>>,
    ) -> Result<Json<Deliveries>, ApiError> {
        let limit = limit.0.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::validation(vec![FieldError {
                field: "limit".into(),
                message: "must be within 1..=1000".into(),
            }]));
        }
        let rows = sqlx::query!(
            "select id, event_type, url, body, signed, status, attempts, last_status,
                    last_error, created_at, next_attempt_at, delivered_at
               from webhook_deliveries order by id desc limit $1",
            i64::from(limit),
        )
        .fetch_all(&self.sandbox.pool)
        .await
        .map_err(ApiError::from)?;
        let deliveries = rows
            .into_iter()
            .map(|row| Delivery {
                id: row.id,
                event_type: row.event_type,
                url: row.url,
                status: row.status,
                attempts: row.attempts,
                last_status: row.last_status,
                last_error: row.last_error,
                signed: row.signed,
                created_at: toss_time(&kst(row.created_at)),
                next_attempt_at: toss_time(&kst(row.next_attempt_at)),
                delivered_at: row.delivered_at.map(|t| toss_time(&kst(t))),
                body: serde_json::from_str(&row.body).unwrap_or(Value::String(row.body)),
            })
            .collect();
        Ok(Json(Deliveries { deliveries }))
    }
}
