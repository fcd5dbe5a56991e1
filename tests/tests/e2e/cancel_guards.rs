//! A refund the order's lines cannot all take is not recorded (services/order-service/src/
//! cancels/complete.rs): the cancel stays open as `RECORDING_FAILED`, listed for a person,
//! instead of adding the whole refund to the order's total while only some lines took it.

use std::time::Duration;

use paymsa_e2e::{
    money::{cancel_with_lost_answer_of, new_order, outbox_events_of, pay, payment},
    seed::start_seeded as start,
    values::dec,
};
use rust_decimal::Decimal;
use serde_json::json;

/// Both lines are refunded at the PSP while the answer is lost; before recovery repeats the
/// cancel, one line stops being refundable (as a hand fix or a defect in a transition would
/// leave it). The repeat finds the refund and must not record it on one line of two.
#[tokio::test]
async fn a_refund_some_lines_cannot_take_is_not_recorded() {
    let mut system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "3600000"),
        ("RECOVERY_STALE_MS", "1000"),
    ])
    .await;
    let order = new_order(&system, &[1, 2]).await;
    pay(&system, &order).await;
    cancel_with_lost_answer_of(&system, &order, json!({"cancelReason": "x"})).await;
    let before = payment(&system, &order.order_id).await;
    let second_line = before["lines"][1]["paymentOrderNo"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pool = system.db(&order_service::SPEC).await;
    sqlx::query("update payment_orders set status = 'FAILURE' where payment_order_no = $1::bigint")
        .bind(&second_line)
        .execute(&pool)
        .await
        .expect("a line no longer refundable");

    // The repeat recovery would make, now.
    let cancel_no: i64 = before["cancels"][0]["cancelNo"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("a cancelNo");
    sqlx::query("update payment_cancels set next_attempt_at = now() where cancel_no = $1")
        .bind(cancel_no)
        .execute(&pool)
        .await
        .expect("due");
    system
        .restart_service_with("order-service", &[("RECOVERY_INTERVAL_MS", "100")])
        .await;
    let details = paymsa_e2e::eventually(Duration::from_secs(30), "the repeat", || async {
        let p = payment(&system, &order.order_id).await;
        let history = p["cancels"][0]["history"].as_array().map_or(0, Vec::len);
        (history >= 3).then_some(p)
    })
    .await;
    let cancel = &details["cancels"][0];
    assert_eq!(
        (cancel["status"].as_str(), cancel["failureCode"].as_str()),
        (Some("UNKNOWN"), Some("RECORDING_FAILED")),
        "{details}"
    );
    assert_eq!(dec(&details["refundedAmount"]), Decimal::ZERO, "{details}");
    assert_eq!(details["lines"][0]["status"], "SUCCESS", "{details}");
    assert_eq!(
        outbox_events_of(&system, &order.order_id, "order.payment.canceled").await,
        0
    );
    pool.close().await;
    system.stop().await;
}
