//! Toss-style webhooks: the events, their bodies, the signature of `payout.changed`, and the
//! outbox they go through. An event is inserted into `webhook_deliveries` (one row per
//! receiver URL) in the transaction of the change it reports; [`crate::webhook_worker`]
//! delivers it after commit.
//!
//! - `PAYMENT_STATUS_CHANGED` `{eventType, createdAt, data: Payment}`: a payment became DONE,
//!   ABORTED, CANCELED or PARTIAL_CANCELED. Unsigned (Toss's are not; receivers re-fetch).
//! - `CANCEL_STATUS_CHANGED` `{eventType, createdAt, data: cancel + paymentKey, orderId}`:
//!   after each cancel. Unsigned.
//! - `payout.changed` `{eventType, createdAt, data: payout item}`: a payout was settled.
//!   Signed: `tosspayments-webhook-signature: v1:base64(HMAC-SHA256(secret,
//!   "{body}:{tosspayments-webhook-transmission-time}"))`.

use std::{cell::Cell, future::Future};

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, FixedOffset};
use hmac::{Hmac, Mac};
use poem_openapi::types::ToJSON;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgConnection;

use crate::{
    payment::{now_kst, PaymentRecord},
    payout::PayoutRecord,
    state::Sandbox,
};

pub const PAYMENT_STATUS_CHANGED: &str = "PAYMENT_STATUS_CHANGED";
pub const CANCEL_STATUS_CHANGED: &str = "CANCEL_STATUS_CHANGED";
pub const PAYOUT_CHANGED: &str = "payout.changed";

/// Header with the time the signature covers.
pub const TRANSMISSION_TIME: &str = "tosspayments-webhook-transmission-time";
/// Header with `v1:<signature>`.
pub const SIGNATURE: &str = "tosspayments-webhook-signature";

/// `2024-09-05T12:19:21+09:00`, the transmission-time format.
pub fn transmission_time(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// `v1:<base64 HMAC-SHA256 of "{body}:{transmission_time}">` with the security key.
pub fn signature(secret: &str, body: &str, transmission_time: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body.as_bytes());
    mac.update(b":");
    mac.update(transmission_time.as_bytes());
    format!("v1:{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether any `v1:` value of a signature header (Toss sends two, comma-separated, while a key
/// is rotated) matches. For receivers and tests.
pub fn verify(secret: &str, body: &str, transmission_time: &str, header: &str) -> bool {
    let Some(expected) = signature(secret, body, transmission_time)
        .strip_prefix("v1:")
        .and_then(|sig| STANDARD.decode(sig).ok())
    else {
        return false;
    };
    header
        .split(',')
        .filter_map(|v| v.trim().strip_prefix("v1:"))
        .filter_map(|sig| STANDARD.decode(sig).ok())
        .any(|sig| sig == expected)
}

fn body(event_type: &str, data: Value) -> String {
    let created_at = now_kst().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    json!({"eventType": event_type, "createdAt": created_at, "data": data}).to_string()
}

tokio::task_local! {
    static QUEUED: Cell<bool>;
}

/// Runs `work` and says whether it queued a webhook, so a request wakes the worker only then
/// (waking it after every confirm cost two idle polls a payment with no receivers: stop 18).
/// A transaction rolled back after queueing costs a spare wake-up, never a missed one.
pub async fn tracking<F: Future>(work: F) -> (F::Output, bool) {
    QUEUED
        .scope(Cell::new(false), async {
            let out = work.await;
            (out, QUEUED.with(Cell::get))
        })
        .await
}

/// Queues one event for every receiver configured now; nothing when there are none.
async fn enqueue(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    event_type: &str,
    data: Value,
    signed: bool,
) -> Result<(), sqlx::Error> {
    let urls = sandbox.memory().webhook_urls.clone();
    if urls.is_empty() {
        return Ok(());
    }
    // The casts: a parameter in a select list has no type of its own.
    sqlx::query!(
        "insert into webhook_deliveries (event_type, url, body, signed)
         select $1::text, url, $3::text, $4::boolean from unnest($2::text[]) as url",
        event_type,
        &urls,
        body(event_type, data),
        signed,
    )
    .execute(conn)
    .await?;
    // Outside `tracking` (the payout worker) the caller wakes the worker itself.
    let _ = QUEUED.try_with(|queued| queued.set(true));
    Ok(())
}

/// `PAYMENT_STATUS_CHANGED` with the payment as it now is.
pub async fn payment_changed(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    payment: &PaymentRecord,
) -> Result<(), sqlx::Error> {
    let data = payment.to_payment().to_json().unwrap_or_default();
    enqueue(sandbox, conn, PAYMENT_STATUS_CHANGED, data, false).await
}

/// `CANCEL_STATUS_CHANGED` for the payment's latest cancel, then `PAYMENT_STATUS_CHANGED`.
pub async fn canceled(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    payment: &PaymentRecord,
) -> Result<(), sqlx::Error> {
    let cancel = payment
        .to_payment()
        .cancels
        .and_then(|cancels| cancels.last().and_then(ToJSON::to_json));
    if let Some(Value::Object(mut data)) = cancel {
        data.insert("paymentKey".into(), json!(payment.payment_key));
        data.insert("orderId".into(), json!(payment.order_id));
        enqueue(
            sandbox,
            conn,
            CANCEL_STATUS_CHANGED,
            Value::Object(data),
            false,
        )
        .await?;
    }
    payment_changed(sandbox, conn, payment).await
}

/// `payout.changed` (signed) with the payout as it now is.
pub async fn payout_changed(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    payout: &PayoutRecord,
) -> Result<(), sqlx::Error> {
    let data = payout.to_item().to_json().unwrap_or_default();
    enqueue(sandbox, conn, PAYOUT_CHANGED, data, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_changes_do_not() {
        let (body, at) = (
            r#"{"eventType":"payout.changed"}"#,
            "2024-09-05T12:19:21+09:00",
        );
        let sig = signature("key", body, at);
        assert!(sig.starts_with("v1:"));
        assert!(verify("key", body, at, &sig));
        assert!(verify("key", body, at, &format!("v1:AAAA,{sig}")));
        assert!(!verify("other", body, at, &sig));
        assert!(!verify("key", body, "2024-09-05T12:19:22+09:00", &sig));
        assert!(!verify("key", "{}", at, &sig));
    }
}
