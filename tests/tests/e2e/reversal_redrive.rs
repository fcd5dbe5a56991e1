//! Internal completion of cancels (docs/payments.md, "Reconciliation"): a done cancel whose
//! `wallet.reversed` never came back is re-published from the committed rows
//! (services/order-service/src/redrive.rs `redrive_reversal`) and marked reversed when the
//! wallet answers (src/wallet_completion.rs). The settlement's twin is in reconciliation.rs.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    money::{cancel, new_order, pay, payment},
    seed::start_seeded as start,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(30);

/// Two partial cancels, both reversed; then the order forgets that the first was (as after a
/// broker lost its `wallet.reversed`). The re-drive publishes the first cancel's event again,
/// with its eventId and its body as it was — the refunded total of that moment, not counting
/// the later cancel — the wallet reverses nothing twice, and the cancel is marked reversed.
#[tokio::test]
async fn an_unreversed_cancel_is_redriven_as_it_was_and_reversed_once() {
    let system = start(&[("REDRIVE_AFTER_MS", "1000")]).await;
    let order = new_order(&system, &[3]).await;
    pay(&system, &order).await;
    let mut cancel_nos = Vec::new();
    for amount in [1000, 500] {
        let body = json!({"cancelReason": "부분 취소", "cancelAmount": amount});
        let (status, answer) = cancel(&system, &order.order_id, body, None).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("DONE")),
            "{answer}"
        );
        cancel_nos.push(answer["cancelNo"].as_str().unwrap_or_default().to_string());
    }
    let orders = system.db(&order_service::SPEC).await;
    let wallets = system.db(&wallet_service::SPEC).await;
    eventually(WAIT, "both cancels reversed", || async {
        (reversed_cancels(&orders, &order.order_id).await == 2).then_some(())
    })
    .await;
    let reversals_before = reversals(&wallets, &order.order_id).await;
    assert_eq!(reversals_before, (2, Decimal::from(1500)), "two reversals");

    let first = cancel_nos[0].as_str();
    sqlx::query("update payment_cancels set is_wallet_done = false where cancel_no = $1::bigint")
        .bind(first)
        .execute(&orders)
        .await
        .expect("forget the reversal");
    eventually(WAIT, "re-driven and reversed again", || async {
        (reversed_cancels(&orders, &order.order_id).await == 2).then_some(())
    })
    .await;

    let published = canceled_events(&orders, first).await;
    assert_eq!(
        published.len(),
        2,
        "the original and the re-drive: {published:#?}"
    );
    let (original, again) = (&published[0], &published[1]);
    assert_eq!(again["eventId"], original["eventId"], "the same event");
    assert_eq!(again["payload"], original["payload"], "the same body");
    assert_eq!(
        original["payload"]["refundedTotal"],
        json!("1000.00"),
        "{original}"
    );
    assert_eq!(
        reversals(&wallets, &order.order_id).await,
        reversals_before,
        "reversed once"
    );
    let details = payment(&system, &order.order_id).await;
    assert_eq!(details["status"], "PARTIAL_CANCELED", "{details}");
    orders.close().await;
    wallets.close().await;
    system.stop().await;
}

async fn reversed_cancels(orders: &PgPool, order_id: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from payment_cancels where order_id = $1 and is_wallet_done",
    )
    .bind(order_id)
    .fetch_one(orders)
    .await
    .expect("cancels readable")
}

/// The wallet's reversal rows of the order: how many, and their sum.
async fn reversals(wallets: &PgPool, order_id: &str) -> (i64, Decimal) {
    sqlx::query_as(
        "select count(*), coalesce(sum(amount), 0) from wallet_transactions
          where order_id = $1 and type = 'REVERSAL'",
    )
    .bind(order_id)
    .fetch_one(wallets)
    .await
    .expect("wallet readable")
}

/// `order.payment.canceled` envelopes of one cancel in the outbox, oldest first.
async fn canceled_events(orders: &PgPool, cancel_no: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "select payload from outbox
          where event_type = 'order.payment.canceled' and payload -> 'payload' ->> 'cancelNo' = $1
          order by created_at, id",
    )
    .bind(cancel_no)
    .fetch_all(orders)
    .await
    .expect("outbox readable")
}
