//! A cancel stays open until the PSP's record says what became of it (docs/payments.md,
//! "Cancel and refund"): a repeated call the PSP refuses, when the PSP's record cannot be read
//! either, proves nothing — the lost call may have refunded; one it can read decides. And the
//! keys of refunds imported from the PSP are not a client's to take.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    money::{cancel, cancel_with_lost_answer, new_order, pay, payment, psp_payment, put_fault},
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

/// The PSP keeps a stored answer for a while only (Toss: 15 days; the sandbox here: 1.5 s).
/// A cancel whose answer was lost is repeated after that, so the PSP no longer knows the key,
/// evaluates the repeat afresh and refuses it: the payment is already cancelled — by the lost
/// call. Its record, read then, completes the cancel: DONE, refunded once, never REJECTED.
/// Before stop 21 the sandbox replayed answers forever, and this path was never run.
#[tokio::test]
async fn a_repeat_refused_after_the_psp_forgot_its_key_completes_from_the_psps_record() {
    let system = start(&FORGETFUL_PSP).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    cancel_with_lost_answer(&system, &order).await;
    canceled_once(&system, &order.order_id).await;
    // The repeat was refused, not replayed: a refusal leaves no stored answer for the key,
    // a replay would have kept the first one.
    let psp = system.db(&psp_sandbox::SPEC).await;
    let kept: i64 =
        sqlx::query_scalar("select count(*) from idempotency_keys where operation = 'cancel'")
            .fetch_one(&psp)
            .await
            .expect("keys");
    assert_eq!(kept, 0, "the repeat was evaluated afresh and refused");
    psp.close().await;
    system.stop().await;
}

/// As above, the repeat is refused, but the PSP's record cannot be read at that moment (the
/// lookup fails): the refusal proves nothing, so the cancel stays open, and the next repeat,
/// with the record readable, completes it. Before stop 21 the first unreadable lookup closed
/// it REJECTED: the customer had the refund, our books and the seller's wallet did not.
#[tokio::test]
async fn a_refused_repeat_with_an_unreadable_psp_record_stays_open() {
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
    let refused = eventually(WAIT, "the repeat refused", || async {
        let c = payment(&system, &order.order_id).await["cancels"][0].clone();
        let code = c["failureCode"].as_str().unwrap_or_default().to_string();
        code.starts_with("ALREADY_CANCELED_PAYMENT").then_some(c)
    })
    .await;
    assert_eq!(refused["status"], "UNKNOWN", "still open: {refused}");
    canceled_once(&system, &order.order_id).await;
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
