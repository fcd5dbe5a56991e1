//! An operator resolves a cancel left open (`POST /admin/cancels/{cancelNo}/resolve`,
//! services/order-service/src/cancels/resolve.rs): from the PSP's record, DONE when its refund
//! is there and REJECTED (`CLOSED_BY_OPERATOR`) when it is not, with who did it in the cancel's
//! history. Before, a cancel the PSP kept answering with a code no list of ours knows stayed
//! open for good, and the order took no other cancel.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    money::{cancel, cancel_with_lost_answer_of, new_order, pay, payment, psp_payment, put_fault},
    seed::start_seeded as start,
    values::dec,
    TestSystem,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

async fn post_resolve(system: &TestSystem, cancel_no: &str) -> (u16, Value) {
    let response = system
        .http
        .post(format!(
            "{}/admin/cancels/{cancel_no}/resolve",
            system.url("order-service")
        ))
        .bearer_auth("test-admin-token")
        .send()
        .await
        .expect("resolve answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Resolves the cancel, waiting out recovery (409 while it has not given up on the cancel or
/// while a drive may be under way).
async fn resolve(system: &TestSystem, cancel_no: &str) -> Value {
    eventually(WAIT, "the cancel resolved", || async {
        match post_resolve(system, cancel_no).await {
            (200, body) => Some(body),
            (409, body) => {
                let code = body["code"].as_str().unwrap_or_default();
                assert!(
                    ["CANCEL_BEING_DRIVEN", "CANCEL_NOT_UNRESOLVED"].contains(&code),
                    "{body}"
                );
                None
            }
            (status, body) => panic!("resolve answered {status}: {body}"),
        }
    })
    .await
}

fn last_move(details: &Value) -> (Value, Value, Value, Value) {
    let history = details["cancels"][0]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let last = history.last().cloned().unwrap_or_default();
    (
        last["previousStatus"].clone(),
        last["newStatus"].clone(),
        last["reason"].clone(),
        last["changedBy"].clone(),
    )
}

/// The PSP answers every call with an error that settles nothing (here its transient
/// `PROVIDER_ERROR`; in production also codes no list of ours knows): recovery keeps the
/// cancel open. Not resolvable while recovery is still at it; once listed, the operator finds
/// no refund of it in the PSP's record and closes it, and the order takes a new cancel.
#[tokio::test]
async fn a_cancel_the_psp_never_answers_clearly_is_closed_by_an_operator() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "100"),
        // Past five calls the drives are 5 s apart: quiet long enough (2 s) to resolve between.
        ("RECOVERY_MAX_BACKOFF_MS", "5000"),
        ("RECOVERY_STALE_MS", "1000"),
    ])
    .await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    put_fault(
        &system,
        &order.order_id,
        json!({"operation": "cancel", "mode": "error", "errorCode": "PROVIDER_ERROR",
               "times": 1000}),
    )
    .await;
    let part = json!({"cancelReason": "x", "cancelAmount": 1000});
    let (status, opened) = cancel(&system, &order.order_id, part.clone(), None).await;
    assert_eq!(
        (status, opened["status"].as_str()),
        (202, Some("UNKNOWN")),
        "{opened}"
    );
    let (status, refused) = cancel(&system, &order.order_id, part.clone(), None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("CANCEL_IN_PROGRESS")),
        "{refused}"
    );
    let cancel_no = opened["cancelNo"].as_str().unwrap_or_default().to_string();
    let (status, early) = post_resolve(&system, &cancel_no).await;
    assert_eq!(
        (status, early["code"].as_str()),
        (409, Some("CANCEL_NOT_UNRESOLVED")),
        "recovery is still at it: {early}"
    );

    let resolved = resolve(&system, &cancel_no).await;
    assert_eq!(
        (
            resolved["status"].as_str(),
            resolved["failureCode"].as_str()
        ),
        (Some("REJECTED"), Some("CLOSED_BY_OPERATOR")),
        "{resolved}"
    );
    let details = payment(&system, &order.order_id).await;
    assert_eq!(
        last_move(&details),
        (
            json!("UNKNOWN"),
            json!("REJECTED"),
            json!("CLOSED_BY_OPERATOR"),
            json!("admin")
        ),
        "{details}"
    );
    assert_eq!(details["status"], "SUCCESS", "nothing refunded: {details}");

    // The cancel fault is replaced by one for a confirm, which a paid order never makes again.
    put_fault(
        &system,
        &order.order_id,
        json!({"mode": "error", "times": 1}),
    )
    .await;
    let (status, again) = cancel(&system, &order.order_id, part, None).await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("DONE")),
        "{again}"
    );
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    assert_eq!(
        dec(&at_psp["totalAmount"]) - dec(&at_psp["balanceAmount"]),
        Decimal::from(1000),
        "refunded once: {at_psp}"
    );
    system.stop().await;
}

/// The PSP refunded but its answer was lost, and recovery is away (here: it gave up after five
/// calls whose lookups failed, written as such): the operator's resolution finds the refund
/// in the PSP's record and records it, once.
#[tokio::test]
async fn a_cancel_the_psp_refunded_is_recorded_done_by_an_operator() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "3600000"),
        ("RECOVERY_STALE_MS", "1000"),
    ])
    .await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    let part = json!({"cancelReason": "x", "cancelAmount": 1000});
    cancel_with_lost_answer_of(&system, &order, part).await;
    let open = payment(&system, &order.order_id).await;
    let cancel_no = open["cancels"][0]["cancelNo"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pool = system.db(&order_service::SPEC).await;
    sqlx::query("update payment_cancels set attempts = 5 where cancel_no = $1::bigint")
        .bind(&cancel_no)
        .execute(&pool)
        .await
        .expect("listed as unresolved");
    pool.close().await;

    let resolved = resolve(&system, &cancel_no).await;
    assert_eq!(resolved["status"], "DONE", "{resolved}");
    let details = payment(&system, &order.order_id).await;
    assert_eq!(details["status"], "PARTIAL_CANCELED", "{details}");
    assert_eq!(dec(&details["refundedAmount"]), Decimal::from(1000));
    assert_eq!(
        last_move(&details),
        (
            json!("UNKNOWN"),
            json!("DONE"),
            json!("PSP_REFUNDED"),
            json!("admin")
        ),
        "{details}"
    );
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(1),
        "refunded once: {at_psp}"
    );
    // A second resolution answers the closed cancel as it is.
    assert_eq!(resolve(&system, &cancel_no).await["status"], "DONE");
    system.stop().await;
}
