//! A cancel stays open until the PSP's record says what became of it (docs/payments.md,
//! "Cancel and refund"): a repeat reads that record before it calls (the PSP may have
//! forgotten the key, and a partial refund would be made twice), a record that cannot be read
//! proves nothing, and a refusal of the first call is a refusal. And the keys of refunds
//! imported from the PSP are not a client's to take.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    money::{
        cancel, cancel_with_lost_answer, cancel_with_lost_answer_of, new_order, pay, payment,
        psp_cancel_calls, psp_payment, put_fault, refund_at_the_psp,
    },
    seed::start_seeded as start,
    values::dec,
    TestSystem,
};
use rust_decimal::Decimal;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// A PSP that keeps answers for 1.5 s, and recovery that repeats a lost cancel after 2 s.
const FORGETFUL_PSP: [(&str, &str); 4] = [
    ("PSP_TIMEOUT_MS", "300"),
    ("RECOVERY_INTERVAL_MS", "1000"),
    ("RECOVERY_STALE_MS", "1000"),
    ("SANDBOX_IDEMPOTENCY_TTL_MS", "1500"),
];

/// Waits for the order to be cancelled in full, its cancel DONE, and checks that the PSP
/// refunded it once.
async fn canceled_once(system: &TestSystem, order_id: &str) {
    let done = eventually(WAIT, "the cancel completed", || async {
        let p = payment(system, order_id).await;
        (p["status"] == "CANCELED").then_some(p)
    })
    .await;
    assert_eq!(done["cancels"][0]["status"], "DONE", "{done}");
    let (_, at_psp) = psp_payment(system, order_id).await;
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(1),
        "refunded once: {at_psp}"
    );
    assert_eq!(dec(&at_psp["balanceAmount"]), Decimal::ZERO, "{at_psp}");
}

/// The first call refunds and its answer is lost; every repeat meets a merchant key the PSP
/// refuses (rotated away), which also hides the PSP's record. Before stop 21 the first repeat
/// closed the cancel REJECTED: the customer had the refund, our books did not, and the seller
/// kept the money. Now it stays open, and with the right key it completes, refunded once.
#[tokio::test]
async fn a_lost_cancel_stays_open_while_the_psp_refuses_our_key() {
    let fast_recovery = [
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "100"),
        ("RECOVERY_MAX_BACKOFF_MS", "400"),
        ("RECOVERY_STALE_MS", "1000"),
    ];
    let mut system = start(&fast_recovery).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    system
        .restart_service_with("order-service", &[("RECOVERY_INTERVAL_MS", "3600000")])
        .await;
    cancel_with_lost_answer(&system, &order).await;

    let mut with_rotated_key = fast_recovery.to_vec();
    with_rotated_key.push(("PSP_SECRET_KEY", "live_sk_rotated_away"));
    system
        .restart_service_with("order-service", &with_rotated_key)
        .await;
    let refused = eventually(WAIT, "repeats refused for our key", || async {
        let p = payment(&system, &order.order_id).await;
        let c = p["cancels"][0].clone();
        (c["failureCode"] == "UNAUTHORIZED_KEY" || c["status"] == "REJECTED").then_some(c)
    })
    .await;
    assert_eq!(refused["status"], "UNKNOWN", "still open: {refused}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let p = payment(&system, &order.order_id).await;
    assert_eq!(p["cancels"][0]["status"], "UNKNOWN", "still open: {p}");
    assert_eq!(
        p["status"], "SUCCESS",
        "nothing refunded on our books yet: {p}"
    );

    system
        .restart_service_with("order-service", &fast_recovery)
        .await;
    canceled_once(&system, &order.order_id).await;
    system.stop().await;
}

/// The first call refunds and its answer is lost; the PSP keeps the key's answer for 1.5 s,
/// and recovery repeats after 2 s. A repeat sent then would be judged afresh (until stop 24 it
/// was, and refused: the payment was already cancelled, by the lost call). Now the repeat
/// reads the PSP's record first, which shows the refund: the cancel completes from it, DONE,
/// refunded once, with no second call. Before stop 21 the sandbox replayed answers forever,
/// and this path was never run.
#[tokio::test]
async fn a_repeat_after_the_psp_forgot_its_key_completes_from_the_psps_record() {
    let system = start(&FORGETFUL_PSP).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    cancel_with_lost_answer(&system, &order).await;
    canceled_once(&system, &order.order_id).await;
    assert_eq!(
        psp_cancel_calls(&system, &order.order_id).await,
        1,
        "the lost call only"
    );
    system.stop().await;
}

/// A part of the order is cancelled, its refund made and the answer lost, and the PSP forgets
/// the key before the repeat. The PSP's balance still covers the part, so a repeat sent would
/// be a second refund, and it was: the customer got the part twice, reconciliation imported
/// the second as a dashboard refund, and the seller paid for it. Now the repeat reads the
/// PSP's record first, finds the refund, and completes the cancel from it without calling.
#[tokio::test]
async fn a_partial_cancel_is_not_refunded_again_after_the_psp_forgot_its_key() {
    let system = start(&FORGETFUL_PSP).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    let part = json!({"cancelReason": "x", "cancelAmount": 1000});
    cancel_with_lost_answer_of(&system, &order, part).await;
    let done = eventually(WAIT, "the cancel completed", || async {
        let p = payment(&system, &order.order_id).await;
        (p["cancels"][0]["status"] == "DONE").then_some(p)
    })
    .await;
    assert_eq!(done["status"], "PARTIAL_CANCELED", "{done}");
    // Longer than recovery's interval and the key's retention: a second refund would be in.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(1),
        "refunded once: {at_psp}"
    );
    assert_eq!(psp_cancel_calls(&system, &order.order_id).await, 1);
    let paid = dec(&at_psp["totalAmount"]);
    assert_eq!(
        dec(&at_psp["balanceAmount"]),
        paid - Decimal::from(1000),
        "{at_psp}"
    );
    system.stop().await;
}

/// A part of the order is cancelled and the call is lost before the PSP refunds anything;
/// meanwhile the merchant refunds more than that part in the PSP's dashboard (not imported
/// while our cancel is open). The repeat's look at the PSP's record finds no refund of the
/// cancel's amount, so it calls, and the customer gets both. Until stop 24 the record's total
/// was enough: it covered the part, the cancel closed DONE on the dashboard's refund without
/// a call, and the customer never got the part asked for.
#[tokio::test]
async fn a_repeat_is_not_closed_on_a_refund_made_elsewhere() {
    let system = start(&FORGETFUL_PSP).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    put_fault(
        &system,
        &order.order_id,
        json!({"operation": "cancel", "mode": "timeout", "times": 1, "timeoutMs": 1000,
               "approveBeforeTimeout": false}),
    )
    .await;
    let part = json!({"cancelReason": "x", "cancelAmount": 1000});
    let (status, body) = cancel(&system, &order.order_id, part, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("UNKNOWN")),
        "{body}"
    );
    refund_at_the_psp(&system, &order.order_id, Decimal::from(1500)).await;
    let done = eventually(WAIT, "the cancel completed", || async {
        let p = payment(&system, &order.order_id).await;
        (p["cancels"][0]["status"] == "DONE").then_some(p)
    })
    .await;
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    let amounts: Vec<Decimal> = at_psp["cancels"]
        .as_array()
        .map(|cs| cs.iter().map(|c| dec(&c["cancelAmount"])).collect())
        .unwrap_or_default();
    assert_eq!(
        amounts,
        vec![Decimal::from(1500), Decimal::from(1000)],
        "the dashboard's refund, then ours: {at_psp} / {done}"
    );
    assert_eq!(
        dec(&at_psp["balanceAmount"]),
        Decimal::from(500),
        "{at_psp}"
    );
    system.stop().await;
}

/// As above, but the PSP's record cannot be read when the repeat is due (the lookup fails):
/// calling again blind could refund twice, and closing it proves nothing, so the cancel stays
/// open with the lookup's error, and the next repeat, with the record readable, completes it.
/// Before stop 21 an unreadable record closed it REJECTED: the customer had the refund, our
/// books and the seller's wallet did not.
#[tokio::test]
async fn a_repeat_with_an_unreadable_psp_record_stays_open() {
    let system = start(&FORGETFUL_PSP).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    cancel_with_lost_answer(&system, &order).await;
    put_fault(
        &system,
        &order.order_id,
        json!({"operation": "lookup", "mode": "error", "errorCode": "PROVIDER_ERROR", "times": 1}),
    )
    .await;
    let unread = eventually(WAIT, "the lookup failed", || async {
        let c = payment(&system, &order.order_id).await["cancels"][0].clone();
        let code = c["failureCode"].as_str().unwrap_or_default().to_string();
        code.contains("PROVIDER_ERROR").then_some(c)
    })
    .await;
    assert_eq!(unread["status"], "UNKNOWN", "still open: {unread}");
    canceled_once(&system, &order.order_id).await;
    system.stop().await;
}

/// The first call of a cancel is refused (the PSP's balance no longer covers it), while a
/// refund made at the PSP itself, not imported yet, covers its amount. That refund is not
/// this cancel's: nothing was refunded for it, so it is refused (REJECTED, 422). Before, the
/// PSP's record was read after any refusal and closed this cancel DONE on the other refund.
#[tokio::test]
async fn a_refused_first_call_is_refused_whatever_else_the_psp_refunded() {
    let system = start(&[]).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    let paid = dec(&at_psp["totalAmount"]);
    // The merchant's dashboard: all but 1000 refunded at the PSP, directly.
    refund_at_the_psp(&system, &order.order_id, paid - Decimal::from(1000)).await;
    let (status, body) = cancel(
        &system,
        &order.order_id,
        json!({"cancelReason": "x", "cancelAmount": 1500}),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let p = payment(&system, &order.order_id).await;
    assert_eq!(p["cancels"][0]["status"], "REJECTED", "{p}");
    // The refusal is in its history, with the PSP's code and who asked.
    let last = &p["cancels"][0]["history"][1];
    assert_eq!(
        (
            &last["previousStatus"],
            &last["newStatus"],
            &last["reason"],
            &last["changedBy"]
        ),
        (
            &json!("REQUESTED"),
            &json!("REJECTED"),
            &p["cancels"][0]["failureCode"],
            &json!("cancel-api")
        ),
        "{p}"
    );
    system.stop().await;
}

/// Refunds made at the PSP are imported under `psp-refund-<refunded total>`, in the same
/// per-order key space as clients' cancels: a client's cancel holding that key made the import
/// conflict, and the refund was never recorded nor reversed in the seller's wallet.
#[tokio::test]
async fn the_keys_of_imported_refunds_are_refused_to_clients() {
    let system = start(&[]).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    let (status, body) = cancel(
        &system,
        &order.order_id,
        json!({"cancelReason": "x", "cancelAmount": 1000}),
        Some("psp-refund-3000"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY")),
        "{body}"
    );
    let p = payment(&system, &order.order_id).await;
    assert_eq!(p["cancels"], json!([]), "nothing opened: {p}");
    system.stop().await;
}
