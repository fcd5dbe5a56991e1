//! Cancel and refund end to end (docs/payments.md, "Cancel and refund"): full and partial
//! cancels refund at the PSP, move the lines SUCCESS → PARTIAL_CANCELED → CANCELED with
//! history, publish one `order.payment.canceled` per cancel, honour Idempotency-Keys, refuse
//! what is not refundable, and a cancel whose answer was lost is completed by recovery.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    money::{cancel, new_order, order_admin, pay, payment, psp_payment, put_fault, Checkout},
    seed::start_seeded as start,
    values::dec,
    TestSystem,
};
use rust_decimal::Decimal;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

async fn paid_order(system: &TestSystem, products: &[i64]) -> Checkout {
    let order = new_order(system, products).await;
    pay(system, &order).await;
    order
}

async fn canceled_events(system: &TestSystem, order_id: &str) -> i64 {
    let pool = system.db(&order_service::SPEC).await;
    let n = sqlx::query_scalar(
        "select count(*) from outbox where payload -> 'payload' ->> 'orderId' = $1
           and event_type = 'order.payment.canceled'",
    )
    .bind(order_id)
    .fetch_one(&pool)
    .await
    .expect("outbox readable");
    pool.close().await;
    n
}

fn krw(v: i64) -> Decimal {
    Decimal::from(v)
}

#[tokio::test]
async fn partial_then_line_then_full_cancels_refund_exactly_once() {
    let system = start(&[]).await;
    let order = paid_order(&system, &[1, 2]).await; // 1000 + 2000
    let id = order.order_id.as_str();

    let partial = json!({"cancelReason": "고객 변심", "cancelAmount": 300});
    let (status, first) = cancel(&system, id, partial.clone(), Some("k-1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "DONE");
    assert_eq!(first["orderStatus"], "PARTIAL_CANCELED");
    assert_eq!(dec(&first["refundedAmount"]), krw(300));
    assert_eq!(dec(&first["refundableAmount"]), krw(2700));

    // The same key answers the same cancel; the same key with another body is refused.
    let (status, again) = cancel(&system, id, partial, Some("k-1")).await;
    assert_eq!(
        (status, &again["cancelNo"]),
        (200, &first["cancelNo"]),
        "{again}"
    );
    let (status, reused) = cancel(
        &system,
        id,
        json!({"cancelReason": "x", "cancelAmount": 1}),
        Some("k-1"),
    )
    .await;
    assert_eq!(
        (status, reused["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED")),
        "{reused}"
    );
    // More than what is left, a fraction of a won, an empty reason: refused, nothing moves.
    let (status, over) = cancel(
        &system,
        id,
        json!({"cancelReason": "x", "cancelAmount": 2701}),
        None,
    )
    .await;
    assert_eq!(
        (status, over["code"].as_str()),
        (422, Some("CANCEL_AMOUNT_EXCEEDS_BALANCE")),
        "{over}"
    );
    let (status, _) = cancel(
        &system,
        id,
        json!({"cancelReason": "x", "cancelAmount": 10.5}),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = cancel(
        &system,
        id,
        json!({"cancelReason": "", "cancelAmount": 10}),
        None,
    )
    .await;
    assert_eq!(status, 400);

    // The whole of the 2000 line: what is left of it after its share of the 300.
    let details = payment(&system, id).await;
    let line_b = details["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| dec(&l["amount"]) == krw(2000))
        .expect("the 2000 line")
        .clone();
    let (status, by_line) = cancel(
        &system,
        id,
        json!({"cancelReason": "품절", "paymentOrderNos": [line_b["paymentOrderNo"]]}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{by_line}");
    assert_eq!(
        dec(&by_line["cancelAmount"]),
        krw(1800),
        "300 spread 100/200 over the lines"
    );

    let (status, rest) = cancel(&system, id, json!({"cancelReason": "전체 취소"}), None).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["orderStatus"], "CANCELED");
    assert_eq!(dec(&rest["cancelAmount"]), krw(900));
    assert_eq!(dec(&rest["refundableAmount"]), krw(0));

    let (status, refused) = cancel(&system, id, json!({"cancelReason": "또"}), None).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("NOT_CANCELABLE_STATUS")),
        "{refused}"
    );

    let details = payment(&system, id).await;
    assert_eq!(details["status"], "CANCELED");
    assert_eq!(dec(&details["refundedAmount"]), krw(3000));
    assert_eq!(
        details["cancels"].as_array().map(Vec::len),
        Some(3),
        "{details}"
    );
    let statuses: Vec<&str> = details["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["newStatus"].as_str())
        .collect();
    assert!(
        statuses.contains(&"PARTIAL_CANCELED") && statuses.contains(&"CANCELED"),
        "{statuses:?}"
    );
    let (_, at_psp) = psp_payment(&system, id).await;
    assert_eq!(at_psp["status"], "CANCELED", "{at_psp}");
    assert_eq!(dec(&at_psp["balanceAmount"]), krw(0));
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(3),
        "refunded once per cancel"
    );
    assert_eq!(canceled_events(&system, id).await, 3);

    // Reconciliation agrees with the PSP for this order.
    let (status, report) = order_admin(&system, "/admin/reconciliation").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["mismatches"], json!([]), "{report}");
    assert!(report["matched"].as_u64() >= Some(1), "{report}");
    system.stop().await;
}

#[tokio::test]
async fn only_a_paid_order_can_be_cancelled() {
    let system = start(&[]).await;
    let order = new_order(&system, &[1]).await;
    let (status, body) = cancel(&system, &order.order_id, json!({"cancelReason": "x"}), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("NOT_CANCELABLE_STATUS")),
        "{body}"
    );
    let (status, body) = cancel(
        &system,
        "no-such-order-000",
        json!({"cancelReason": "x"}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("ORDER_NOT_FOUND")),
        "{body}"
    );
    system.stop().await;
}

/// The PSP refunds but its answer is lost: 202 UNKNOWN, then recovery repeats the call with
/// the same key and records DONE; the PSP refunded exactly once.
#[tokio::test]
async fn a_cancel_whose_answer_was_lost_is_completed_once() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "100"),
        ("RECOVERY_STALE_MS", "1000"),
    ])
    .await;
    let order = paid_order(&system, &[3]).await;
    put_fault(
        &system,
        &order.order_id,
        json!({"operation": "cancel", "mode": "timeout", "times": 1, "timeoutMs": 1500, "approveBeforeTimeout": true}),
    )
    .await;
    let (status, body) = cancel(
        &system,
        &order.order_id,
        json!({"cancelReason": "x", "cancelAmount": 1000}),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "UNKNOWN");
    assert_eq!(
        body["orderStatus"], "SUCCESS",
        "nothing refunded on our side yet"
    );
    let details = eventually(WAIT, "the cancel completed by recovery", || async {
        let p = payment(&system, &order.order_id).await;
        (p["status"] == "PARTIAL_CANCELED").then_some(p)
    })
    .await;
    assert_eq!(dec(&details["refundedAmount"]), krw(1000));
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    assert_eq!(dec(&at_psp["balanceAmount"]), krw(2000), "{at_psp}");
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(1),
        "refunded once"
    );
    assert_eq!(canceled_events(&system, &order.order_id).await, 1);
    // Its history: opened by the API, unknown on the lost answer, closed by recovery.
    let history = details["cancels"][0]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let moves: Vec<(Option<&str>, Option<&str>, Option<&str>)> = history
        .iter()
        .map(|h| {
            let s = |k: &str| h[k].as_str();
            (s("previousStatus"), s("newStatus"), s("changedBy"))
        })
        .collect();
    assert_eq!(
        moves,
        [
            (None, Some("REQUESTED"), Some("cancel-api")),
            (Some("REQUESTED"), Some("UNKNOWN"), Some("cancel-api")),
            (Some("UNKNOWN"), Some("DONE"), Some("recovery-job")),
        ],
        "{details}"
    );
    // Why it was unknown stays readable after the close cleared the cancel's failure code.
    assert!(
        history[1]["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{details}"
    );
    assert_eq!(history[2]["reason"], "PSP_REFUNDED", "{details}");
    system.stop().await;
}
