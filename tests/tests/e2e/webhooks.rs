//! The PSP's payment webhooks at order-service (`POST /webhooks/toss`): the body is never
//! trusted, it only makes the named order due for a lookup, so a webhook resolves an UNKNOWN
//! payment long before the recovery job's next pass, and a forged or replayed one changes
//! nothing but the time of a lookup.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    http::send,
    money::{approve, cancel_with_lost_answer, confirm_with_lost_answer, new_order, pay, payment},
    seed::start_seeded as start,
    TestSystem,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

async fn webhook(system: &TestSystem, body: Value) -> (u16, Value) {
    send(
        system
            .http
            .post(format!("{}/webhooks/toss", system.url("order-service")))
            .json(&body),
    )
    .await
}

/// Sends `body` twenty times, `apart`: the first is answered `LOOKUP_SCHEDULED`, every other
/// `IGNORED` (a lookup is scheduled already).
async fn only_the_first_is_scheduled(system: &TestSystem, body: &Value, apart: Duration) {
    let mut results = Vec::new();
    for _ in 0..20 {
        let (status, answer) = webhook(system, body.clone()).await;
        assert_eq!(status, 200, "{answer}");
        results.push(answer["result"].as_str().unwrap_or_default().to_string());
        tokio::time::sleep(apart).await;
    }
    assert_eq!(results[0], "LOOKUP_SCHEDULED", "{results:?}");
    assert!(
        results[1..].iter().all(|r| r == "IGNORED"),
        "already scheduled: {results:?}"
    );
}

/// Recovery passes are an hour apart: only the webhook can make the lookup happen now. The
/// forged body says ABORTED; the PSP says DONE, and DONE is what is recorded.
#[tokio::test]
async fn a_webhook_resolves_an_unknown_payment_with_the_psps_answer_not_its_own() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "3600000"),
    ])
    .await;
    let order = new_order(&system, &[1]).await;
    let key = approve(&system, &order).await;
    confirm_with_lost_answer(&system, &key, &order, true).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let forged = json!({
        "eventType": "PAYMENT_STATUS_CHANGED",
        "createdAt": "2024-02-13T12:18:21.000000",
        "data": {"orderId": order.order_id, "paymentKey": key, "status": "ABORTED"}
    });
    let (status, answer) = webhook(&system, forged.clone()).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("LOOKUP_SCHEDULED")),
        "{answer}"
    );
    let paid = eventually(
        WAIT,
        "the webhook's lookup to record the PSP's answer",
        || async {
            let p = payment(&system, &order.order_id).await;
            (p["status"] != "UNKNOWN" && p["status"] != "EXECUTING").then_some(p)
        },
    )
    .await;
    assert_eq!(paid["status"], "SUCCESS", "the PSP said DONE: {paid}");

    // Replayed: nothing of ours waits for the PSP any more.
    let (status, again) = webhook(&system, forged).await;
    assert_eq!(
        (status, again["result"].as_str()),
        (200, Some("IGNORED")),
        "{again}"
    );
    // Unknown orders, other events and bodies without an orderId are ignored too.
    for body in [
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"orderId": "nobody-000000"}}),
        json!({"eventType": "SOMETHING_ELSE", "data": {"orderId": order.order_id}}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {}}),
    ] {
        let (status, answer) = webhook(&system, body).await;
        assert_eq!(
            (status, answer["result"].as_str()),
            (200, Some("IGNORED")),
            "{answer}"
        );
    }
    let (status, _) = webhook(&system, json!({"data": {}})).await;
    assert_eq!(status, 400, "a body that is not a webhook");
    system.stop().await;
}

/// A flood of payment webhooks naming an unknown order schedules one lookup: the first is
/// answered `LOOKUP_SCHEDULED`, the rest `IGNORED` (the order is due by then already), and
/// the one lookup records the PSP's answer. Until stop 31 every webhook of the flood was
/// scheduled again: a write of the order's row and a task waiting to wake the job, each.
#[tokio::test]
async fn a_flood_of_payment_webhooks_schedules_one_lookup() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "3600000"),
    ])
    .await;
    let order = new_order(&system, &[1]).await;
    let key = approve(&system, &order).await;
    confirm_with_lost_answer(&system, &key, &order, true).await;
    let changed = json!({
        "eventType": "PAYMENT_STATUS_CHANGED",
        "data": {"orderId": order.order_id, "status": "DONE"}
    });
    only_the_first_is_scheduled(&system, &changed, Duration::from_millis(20)).await;
    eventually(WAIT, "the one lookup to record the charge", || async {
        (payment(&system, &order.order_id).await["status"] == "SUCCESS").then_some(())
    })
    .await;
    system.stop().await;
}

/// A cancel whose answer was lost is asked about at most once per 10 s (or the recovery's
/// claim, if longer) from its last change, however many webhooks name its order. Before stop
/// 21 each `CANCEL_STATUS_CHANGED` made it due at once and woke recovery: a flood was a flood
/// of PSP cancel calls, and it cut short the claim of a drive still running.
#[tokio::test]
async fn a_flood_of_cancel_webhooks_calls_the_psp_once() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "3600000"),
        ("RECOVERY_STALE_MS", "1000"),
    ])
    .await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    cancel_with_lost_answer(&system, &order).await;
    let changed = json!({
        "eventType": "CANCEL_STATUS_CHANGED",
        "data": {"orderId": order.order_id, "status": "DONE"}
    });
    only_the_first_is_scheduled(&system, &changed, Duration::from_millis(50)).await;
    eventually(WAIT, "the cancel completed by the one lookup", || async {
        (payment(&system, &order.order_id).await["status"] == "CANCELED").then_some(())
    })
    .await;
    let (_, stats) = send(system.http.get(format!(
        "{}/sandbox/stats/orders/{}",
        system.url("psp-sandbox"),
        order.order_id
    )))
    .await;
    // The one drive reads the PSP's record first (cancels/drive.rs), finds the lost call's
    // refund and calls no more: before stop 24 it repeated the call once (2 here).
    assert_eq!(stats["cancelCalls"], 1, "the lost call only: {stats}");
    system.stop().await;
}
