//! The money path end to end: checkout at order-service, approval in the PSP sandbox's payment
//! window, confirm (with the sandbox's fault injection for timeouts, transient errors and
//! declines), the recovery job, settlement into the seller's wallet and `isWalletDone`.
//!
//! Every test starts the whole system in-process with the seed data (seller 1 with wallet 1,
//! products 1/2/3 at 1000/2000/3000) and talks to it over HTTP. Invariants the API does not
//! show (events written, ledger rows) are read from the services' own databases and streams.

use std::{collections::HashMap, time::Duration};

use paymsa_e2e::{
    eventually,
    http::send,
    money::{
        approve, balance, checkout, checkout_body, confirm, confirm_body, confirm_order, new_order,
        payment, psp_stats, put_fault, wallet, Checkout,
    },
    seed::start_seeded as start,
    streams::Bus,
    values::dec,
    TestSystem,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const SELLER: i64 = 1;
mod concurrent;
mod input;
mod stuck;

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// helpers

fn krw(v: i64) -> Decimal {
    Decimal::from(v)
}

/// Events order-service wrote for the order, by type (the outbox keeps every row for days).
async fn order_events(system: &TestSystem, order_id: &str) -> HashMap<String, i64> {
    let pool = system.db(&order_service::SPEC).await;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select event_type, count(*) from outbox
         where payload -> 'payload' ->> 'orderId' = $1 group by event_type",
    )
    .bind(order_id)
    .fetch_all(&pool)
    .await
    .expect("outbox readable");
    pool.close().await;
    rows.into_iter().collect()
}

/// How many messages of `subject` (unqualified, e.g. `order.payment.failed`) the namespace's
/// ORDERS stream holds for the order.
async fn stream_count(system: &TestSystem, subject: &str, order_id: &str) -> usize {
    let bus = Bus::connect(system).await;
    let envelopes = bus.envelopes(&events::topology::ORDERS, subject).await;
    envelopes
        .iter()
        .filter(|e| e["payload"]["orderId"] == order_id)
        .count()
}

/// Waits until wallet-service's settlement consumer has nothing pending or unacknowledged, so
/// a settlement that was going to happen has happened.
async fn settlement_idle(system: &TestSystem) {
    // First every event order-service committed must be on the stream: a consumer with
    // nothing pending says nothing about an outbox row the relay has not published yet.
    let pool = system.db(&order_service::SPEC).await;
    eventually(WAIT, "order-service's outbox to drain", || async {
        let unpublished: i64 =
            sqlx::query_scalar("select count(*) from outbox where status <> 'SUCCESS'")
                .fetch_one(&pool)
                .await
                .ok()?;
        (unpublished == 0).then_some(())
    })
    .await;
    pool.close().await;
    let bus = Bus::connect(system).await;
    bus.wait_idle(&events::topology::ORDERS, "wallet-settlement", WAIT)
        .await;
}

/// A checked-out, approved order (and its paymentKey) whose confirms run into `fault`.
async fn approved_with_fault(
    system: &TestSystem,
    products: &[i64],
    fault: Value,
) -> (Checkout, String) {
    let order = new_order(system, products).await;
    let key = approve(system, &order).await;
    put_fault(system, &order.order_id, fault).await;
    (order, key)
}

/// The order's `order.payment.failed` is published once, no `.confirmed` is written or
/// published, and once settlement is idle the ledger holds nothing of the order.
async fn failed_and_never_settled(system: &TestSystem, order_id: &str) {
    eventually(WAIT, "order.payment.failed published", || async {
        (stream_count(system, "order.payment.failed", order_id).await == 1).then_some(())
    })
    .await;
    assert_eq!(
        stream_count(system, "order.payment.confirmed", order_id).await,
        0
    );
    let events = order_events(system, order_id).await;
    assert_eq!(events.get("order.payment.confirmed"), None, "{events:?}");
    settlement_idle(system).await;
    assert_eq!(ledger_rows(system, order_id).await, (0, 0));
}

/// `(rows, distinct lines)` of the wallet ledger for the order.
async fn ledger_rows(system: &TestSystem, order_id: &str) -> (i64, i64) {
    let pool = system.db(&wallet_service::SPEC).await;
    let counts = sqlx::query_as(
        "select count(*), count(distinct payment_order_no) from wallet_transactions where order_id = $1",
    )
    .bind(order_id)
    .fetch_one(&pool)
    .await
    .expect("ledger readable");
    pool.close().await;
    counts
}

/// `(previous, new, reason, actor)` of every history row of one line, oldest first.
fn line_history(details: &Value, line: &Value) -> Vec<(String, String, String, String)> {
    details["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h["paymentOrderNo"] == line["paymentOrderNo"])
        .map(|h| {
            (
                h["previousStatus"].as_str().unwrap_or("-").to_string(),
                h["newStatus"].as_str().expect("newStatus").to_string(),
                h["reason"].as_str().expect("reason").to_string(),
                h["changedBy"].as_str().expect("changedBy").to_string(),
            )
        })
        .collect()
}

fn h(prev: &str, new: &str, reason: &str, actor: &str) -> (String, String, String, String) {
    (prev.into(), new.into(), reason.into(), actor.into())
}

/// A line's history from checkout to the confirm request, then `then`.
fn after_confirm_request(
    then: Vec<(String, String, String, String)>,
) -> Vec<(String, String, String, String)> {
    let mut history = vec![
        h("-", "NOT_STARTED", "CHECKOUT", "checkout-api"),
        h(
            "NOT_STARTED",
            "EXECUTING",
            "CONFIRM_REQUESTED",
            "confirm-api",
        ),
    ];
    history.extend(then);
    history
}

/// Every line SUCCESS, never counted as unknown, with the history of one confirm that the PSP
/// answered at once.
fn paid_by_one_confirm(details: &Value) {
    for line in lines(details) {
        assert_eq!(line["status"], "SUCCESS");
        assert_eq!(line["failedCount"], 0);
        assert_eq!(
            line_history(details, line),
            after_confirm_request(vec![h(
                "EXECUTING",
                "SUCCESS",
                "PSP_CONFIRM_OK",
                "confirm-api"
            )]),
            "history of line {line}"
        );
    }
}

fn lines(details: &Value) -> &Vec<Value> {
    details["lines"].as_array().expect("lines")
}

// ---------------------------------------------------------------------------------------
// tests

/// 1. checkout → approve → confirm → 200 SUCCESS → the seller's wallet is credited with the
/// sum, one ledger row per line → `isWalletDone`; the history shows every transition with
/// its reason and actor.
#[tokio::test]
async fn a_confirmed_payment_is_settled_into_the_sellers_wallet() {
    let system = start(&[]).await;
    let order = new_order(&system, &[1, 2, 3]).await;
    assert_eq!(order.amount, krw(6000));
    assert_eq!(order.order_name, "상품A 외 2건");
    let key = approve(&system, &order).await;

    let (status, body) = confirm_order(&system, &key, &order).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "SUCCESS");
    assert_eq!(dec(&body["amount"]), krw(6000));

    eventually(WAIT, "seller 1 credited", || async {
        (balance(&system, SELLER).await == krw(6000)).then_some(())
    })
    .await;
    let details = eventually(WAIT, "isWalletDone", || async {
        let p = payment(&system, &order.order_id).await;
        (p["isWalletDone"] == true).then_some(p)
    })
    .await;
    assert_eq!(details["status"], "SUCCESS");
    assert_eq!(details["isPaymentDone"], true);
    assert_eq!(details["paymentKey"], key.as_str());
    assert_eq!(dec(&details["totalAmount"]), krw(6000));
    assert_eq!(lines(&details).len(), 3);
    paid_by_one_confirm(&details);

    let (_, w) = wallet(&system, SELLER).await;
    // At most one balance change: sales reach wallets.balance when folded, maybe several at once (docs/ledger.md).
    assert!(w["version"].as_i64().is_some_and(|v| v <= 1), "{w}");
    let ledger = w["recentTransactions"].as_array().expect("transactions");
    assert_eq!(ledger.len(), 3, "{w}");
    let mut credited_lines: Vec<(String, Decimal)> = ledger
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "CREDIT");
            assert_eq!(t["orderId"], order.order_id.as_str());
            (
                t["paymentOrderNo"].as_str().expect("line").to_string(),
                dec(&t["amount"]),
            )
        })
        .collect();
    credited_lines.sort();
    let mut paid_lines: Vec<(String, Decimal)> = lines(&details)
        .iter()
        .map(|l| {
            (
                l["paymentOrderNo"].as_str().expect("line").to_string(),
                dec(&l["amount"]),
            )
        })
        .collect();
    paid_lines.sort();
    assert_eq!(credited_lines, paid_lines);
    assert_eq!(psp_stats(&system, &order.order_id).await, (1, true));
    system.stop().await;
}

/// 3. The PSP charges but answers too late: confirm says UNKNOWN (202), the recovery job
/// finds the payment DONE at the PSP, records SUCCESS, and the seller is credited once.
#[tokio::test]
async fn a_psp_timeout_is_recovered_to_success_and_settled_once() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "500"),
        ("RECOVERY_INTERVAL_MS", "300"),
        ("RECOVERY_STALE_MS", "1500"),
    ])
    .await;
    let (order, key) = approved_with_fault(
        &system,
        &[2, 3],
        json!({"mode": "timeout", "times": 1, "timeoutMs": 4000, "approveBeforeTimeout": true}),
    )
    .await;

    let started = std::time::Instant::now();
    let (status, body) = confirm_order(&system, &key, &order).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "UNKNOWN");
    assert_eq!(body["reason"], "PSP_TIMEOUT");
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "confirm waited for the PSP instead of timing out: {:?}",
        started.elapsed()
    );

    let details = eventually(WAIT, "recovery to record SUCCESS", || async {
        let p = payment(&system, &order.order_id).await;
        (p["status"] == "SUCCESS").then_some(p)
    })
    .await;
    for line in lines(&details) {
        assert_eq!(line["failedCount"], 1, "one unknown outcome: {line}");
        assert_eq!(
            line_history(&details, line),
            after_confirm_request(vec![
                h("EXECUTING", "UNKNOWN", "PSP_TIMEOUT", "confirm-api"),
                h("UNKNOWN", "EXECUTING", "RECOVERY_RETRY", "recovery-job"),
                h("EXECUTING", "SUCCESS", "PSP_CONFIRM_OK", "recovery-job"),
            ]),
            "history of line {line}"
        );
    }
    eventually(WAIT, "isWalletDone", || async {
        (payment(&system, &order.order_id).await["isWalletDone"] == true).then_some(())
    })
    .await;
    // A confirm the client retries after recovery answers the recorded outcome.
    let (status, again) = confirm_order(&system, &key, &order).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("SUCCESS")));

    settlement_idle(&system).await;
    let (calls, charged) = psp_stats(&system, &order.order_id).await;
    assert!(charged);
    assert_eq!(
        calls, 1,
        "recovery looks the payment up instead of confirming again"
    );
    assert_eq!(
        order_events(&system, &order.order_id)
            .await
            .get("order.payment.confirmed"),
        Some(&1)
    );
    assert_eq!(ledger_rows(&system, &order.order_id).await, (2, 2));
    let (_, w) = wallet(&system, SELLER).await;
    assert_eq!(dec(&w["balance"]), krw(5000), "{w}");
    assert!(w["version"].as_i64().is_some_and(|v| v <= 1), "{w}");
    system.stop().await;
}

/// 5. A decline is final: 422 with the PSP's code, the order FAILURE with that reason, no
/// settlement, and a retry does not reach the PSP.
#[tokio::test]
async fn a_declined_card_fails_the_order_with_the_psp_code() {
    let system = start(&[]).await;
    let (order, key) = approved_with_fault(
        &system,
        &[3],
        json!({"mode": "error", "errorCode": "REJECT_CARD_PAYMENT", "times": 1}),
    )
    .await;

    let (status, body) = confirm_order(&system, &key, &order).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "REJECT_CARD_PAYMENT");

    let details = payment(&system, &order.order_id).await;
    assert_eq!(details["status"], "FAILURE");
    assert_eq!(details["isPaymentDone"], false);
    let line = &lines(&details)[0];
    assert_eq!(
        line["failedCount"], 0,
        "a decline is not an unknown outcome"
    );
    assert_eq!(
        line_history(&details, line),
        after_confirm_request(vec![h(
            "EXECUTING",
            "FAILURE",
            "REJECT_CARD_PAYMENT",
            "confirm-api"
        )])
    );

    let (status, again) = confirm_order(&system, &key, &order).await;
    assert_eq!(status, 409, "{again}");
    assert!(
        again["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("REJECT_CARD_PAYMENT"),
        "{again}"
    );
    assert_eq!(psp_stats(&system, &order.order_id).await, (1, false));

    failed_and_never_settled(&system, &order.order_id).await;
    assert_eq!(balance(&system, SELLER).await, krw(0));
    system.stop().await;
}
