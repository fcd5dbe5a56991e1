//! order-service's `order-wallet-completion` (services/order-service/src/wallet_completion.rs):
//! `wallet.settled` of paid orders arriving in a burst marks them settled in groups, each group
//! as one batch, a second copy of an event changing nothing; a settlement of an order that was
//! never paid marks nothing. order-query's `order-query-wallet` takes the burst in batches too.

use std::time::Duration;

use events::{Envelope, SellerCredit, WalletSettled};
use paymsa_e2e::{
    eventually,
    money::{new_order, pay, payment},
    streams::Bus,
    TestSystem,
};
use rust_decimal::Decimal;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_burst_of_settlements_is_marked_in_batches() {
    // Groups wait up to 200 ms to fill, so the burst below is marked in groups on a loaded
    // runner too.
    let mut system = TestSystem::builder()
        .overrides([("GROUP_COMMIT_LINGER_MS", "200")])
        .seeded()
        .start()
        .await;
    // The settlements below are this test's: the wallet sends none of its own.
    system.stop_service("wallet-service").await;
    let mut orders = Vec::new();
    for _ in 0..8 {
        let order = new_order(&system, &[1]).await;
        pay(&system, &order).await;
        orders.push(order);
    }
    let unpaid = new_order(&system, &[2]).await;
    let bus = Bus::connect(&system).await;
    let settled = |order_id: &str, payment_event_no: i64| {
        Envelope::new(WalletSettled {
            order_id: order_id.to_string(),
            payment_event_no,
            credits: vec![SellerCredit {
                seller_no: 1,
                amount: Decimal::from(1000),
            }],
        })
    };
    let events: Vec<_> = orders
        .iter()
        .map(|o| settled(&o.order_id, o.payment_event_no.0))
        .collect();
    for event in &events {
        bus.publish(event).await;
    }
    bus.publish_as(&events[3], "a-second-copy").await;
    bus.publish(&settled(&unpaid.order_id, unpaid.payment_event_no.0))
        .await;

    for order in &orders {
        eventually(WAIT, "marked settled", || async {
            (payment(&system, &order.order_id).await["isWalletDone"] == true).then_some(())
        })
        .await;
    }
    let db = system.db(&order_service::SPEC).await;
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    // Rows a batch marks share its savepoint's xid; one at a time each order has its own.
    let (marked, transactions): (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct xmin::text) from payment_events
          where order_id = any($1) and is_wallet_done",
    )
    .bind(&ids)
    .fetch_one(&db)
    .await
    .expect("marked orders");
    assert_eq!(marked, 8);
    assert!(
        transactions < marked,
        "the burst was marked in batches: {transactions} transactions for {marked} orders"
    );
    let claims = || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from processed_events where consumer = 'order-wallet-completion'",
        )
        .fetch_one(&db)
        .await
        .expect("claims");
        n
    };
    eventually(WAIT, "the nine events claimed", || async {
        (claims().await == 9).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(claims().await, 9, "the copy claimed nothing");
    // order-query took the same burst in batches too (its projection_batch.rs).
    let read_model = system.db(&order_query_service::SPEC).await;
    let (kept, transactions): (i64, i64) = eventually(WAIT, "kept by order-query", || async {
        let row: (i64, i64) = sqlx::query_as(
            "select count(*), count(distinct xmin::text) from wallet_settlements
              where order_id = any($1)",
        )
        .bind(&ids)
        .fetch_one(&read_model)
        .await
        .expect("settlements in the read model");
        (row.0 == 8).then_some(row)
    })
    .await;
    assert!(
        transactions < kept,
        "order-query kept the burst in batches: {transactions} transactions for {kept}"
    );
    read_model.close().await;
    assert_eq!(
        payment(&system, &unpaid.order_id).await["isWalletDone"],
        false,
        "an order never paid is not settled"
    );
    db.close().await;
    system.stop().await;
}
