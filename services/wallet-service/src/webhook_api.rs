//! `POST /webhooks/toss`: the PSP's signed `payout.changed` webhook.
//!
//! The signature is checked over the raw body bytes (`tosspayments-webhook-signature: v1:…`,
//! HMAC-SHA256 of `"{body}:{tosspayments-webhook-transmission-time}"` with
//! `PSP_WEBHOOK_SECRET`; two comma-separated values are accepted while a key is rotated). A
//! missing or wrong signature, or a transmission time more than 5 minutes off (a replay), is
//! 401 and changes nothing. A body seen before is answered 200 `DUPLICATE`. The payout then
//! only takes the guarded transitions REQUESTED/SENT/UNKNOWN → COMPLETED/FAILED, so a webhook
//! and the recovery job's lookup converge on one outcome in either order.
//!
//! Unsigned events (`PAYMENT_STATUS_CHANGED`, `CANCEL_STATUS_CHANGED`: the sandbox sends every
//! event to every receiver) are answered 200 `IGNORED`: wallet-service acts on none of them.

use poem::Request;
use poem_openapi::{payload::Json, Object, OpenApi, Tags};
use serde_json::Value;
use service_kit::{error::StatusProblem, ApiError, Problem};
use sha2::{Digest, Sha256};

use crate::{
    ids::PayoutNo,
    payouts::{flow::Applied, psp::PspPayout, signature, store, Payouts},
    webhook_payload::RawWebhook,
};

pub const SIGNATURE: &str = "tosspayments-webhook-signature";
pub const TRANSMISSION_TIME: &str = "tosspayments-webhook-transmission-time";

#[derive(Tags)]
enum WebhookTag {
    /// Notifications from the PSP.
    Webhooks,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct WebhookAccepted {
    /// `APPLIED` (the payout moved), `UNCHANGED` (it was there already), `DUPLICATE` (this
    /// body was received before) or `IGNORED` (not a payout of ours, or not a payout event).
    pub result: String,
}

impl poem_openapi::types::Example for WebhookAccepted {
    fn example() -> Self {
        Self {
            result: "APPLIED".into(),
        }
    }
}

pub struct WebhookApi {
    pub payouts: Payouts,
}

fn rejected(code: &str, detail: impl Into<String>) -> ApiError {
    ApiError::Unauthorized(Json(StatusProblem(Problem::new(401, code, detail))))
}

fn answer(result: &str) -> Json<WebhookAccepted> {
    Json(WebhookAccepted {
        result: result.into(),
    })
}

#[OpenApi(tag = "WebhookTag::Webhooks")]
impl WebhookApi {
    /// Receive the PSP's signed payout.changed webhook.
    ///
    /// 401 for a missing or wrong signature or a transmission time more than 5 minutes off;
    /// otherwise 200 at once, with what the webhook did.
    #[oai(
        path = "/webhooks/toss",
        method = "post",
        operation_id = "toss_webhook"
    )]
    async fn receive(
        &self,
        req: &Request,
        body: RawWebhook,
    ) -> Result<Json<WebhookAccepted>, ApiError> {
        let raw = body.0;
        // A webhook is a JSON object with an eventType string, a data object and, if present,
        // a createdAt string (the document's PayoutWebhook); anything else is not one,
        // whatever the signature says. The body stays raw bytes for the signature, so the
        // shape is checked here rather than by a typed payload.
        let parsed: Value = serde_json::from_slice(&raw).unwrap_or_default();
        let event_type = parsed
            .get("eventType")
            .and_then(Value::as_str)
            .filter(|_| parsed.get("data").is_some_and(Value::is_object))
            .filter(|_| parsed.get("createdAt").is_none_or(Value::is_string));
        let Some(event_type) = event_type else {
            return Err(ApiError::bad_request(
                "INVALID_WEBHOOK",
                "a webhook is a JSON object with an eventType string, a data object and, \
                 if present, a createdAt string",
            ));
        };
        let header = |name: &str| req.header(name).map(str::to_string);
        let Some(sig) = header(SIGNATURE) else {
            if event_type != "payout.changed" {
                return Ok(answer("IGNORED"));
            }
            return Err(rejected(
                "WEBHOOK_SIGNATURE_MISSING",
                format!("no {SIGNATURE} header"),
            ));
        };
        let time = header(TRANSMISSION_TIME).unwrap_or_default();
        let secret = &self.payouts.settings.webhook_secret;
        if !signature::verify(secret, &raw, &time, &sig) {
            tracing::warn!("a webhook with a wrong signature was refused");
            return Err(rejected(
                "WEBHOOK_SIGNATURE_INVALID",
                "the signature does not match",
            ));
        }
        if let Err(reason) = signature::fresh(&time, chrono::Utc::now()) {
            tracing::warn!(%reason, "a stale (replayed?) webhook was refused");
            return Err(rejected("WEBHOOK_REPLAYED", reason));
        }
        let digest = format!("{:x}", Sha256::digest(&raw));
        let mut conn = self.payouts.pool.acquire().await?;
        let seen = sqlx::query_scalar!(
            r#"select exists (select 1 from payout_webhooks where body_sha256 = $1) as "seen!""#,
            &digest,
        )
        .fetch_one(&mut *conn)
        .await?;
        if seen {
            return Ok(answer("DUPLICATE"));
        }
        let item = (event_type == "payout.changed")
            .then(|| serde_json::from_value::<PspPayout>(parsed["data"].clone()).ok())
            .flatten();
        let result = match &item {
            Some(item) => self.apply(&mut conn, item).await?,
            None => "IGNORED",
        };
        sqlx::query!(
            "insert into payout_webhooks
                 (body_sha256, psp_payout_id, ref_payout_id, status, transmission_time)
             values ($1, $2, $3, $4, $5) on conflict do nothing",
            &digest,
            item.as_ref().map(|i| i.id.as_str()),
            item.as_ref().map(|i| i.ref_payout_id.as_str()),
            item.as_ref().map(|i| i.status.as_str()),
            &time,
        )
        .execute(&mut *conn)
        .await?;
        Ok(answer(result))
    }
}

impl WebhookApi {
    /// Applies an authenticated payout event to our payout, if it is ours and matches.
    async fn apply(
        &self,
        conn: &mut sqlx::PgConnection,
        item: &PspPayout,
    ) -> Result<&'static str, ApiError> {
        let Some(payout_no) = item.ref_payout_id.parse::<i64>().ok().map(PayoutNo) else {
            return Ok("IGNORED");
        };
        let Some(payout) = store::find(conn, payout_no).await? else {
            return Ok("IGNORED");
        };
        if !item.describes(payout_no, payout.seller_no, payout.amount) {
            tracing::error!(
                %payout_no,
                ?item,
                "a signed payout webhook does not match our payout"
            );
            return Ok("IGNORED");
        }
        let applied = self
            .payouts
            .apply(payout_no, item, "webhook")
            .await
            .map_err(|e| ApiError::internal_error(&e))?;
        Ok(match applied {
            Applied::Changed => "APPLIED",
            Applied::Unchanged => "UNCHANGED",
        })
    }
}
