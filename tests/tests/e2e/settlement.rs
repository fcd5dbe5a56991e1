//! Wallet settlement under load and across the onboarding saga: concurrent workers crediting
//! one wallet lose nothing and credit nothing twice, and a sale that beats its seller's
//! wallet is parked, then credited exactly once when the wallet is created.
//!
//! The system runs in-process with the seed data (seller 1 with wallet 1, products 1/2/3).

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use events::{topology, Envelope, PaidOrderLine, PaymentConfirmed, SellerRegistered};
use paymsa_e2e::{
    eventually,
    money::{approve, confirm, new_order, payment, wallet},
    seed::start_seeded,
    sellers::wait_active,
    streams::Bus,
    values::dec,
};
use rust_decimal::Decimal;

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// tests

/// 7. 500 paid orders of one seller, settled by two wallet-service instances sharing the
/// `wallet-settlement` durable (4 concurrent handlers each, so 8 workers race for one wallet
/// row): the balance is the exact sum, one ledger row per line, no update lost, no more balance
/// changes than orders, nothing parked or dead-lettered, one `wallet.settled` per order.
#[tokio::test]
async fn five_hundred_concurrent_settlements_lose_no_update() {
    const ORDERS: i64 = 500;
    let system = start_seeded(&[]).await;
    // A second instance of wallet-service: same database and namespace, its own node id (ids
    // must not collide) and its own relay membership.
    let mut config = service_kit::testing::test_config(&wallet_service::SPEC, &system.namespace);
    config.node_id = 33;
    let second = wallet_service::build(config)
        .await
        .expect("second wallet-service starts");

    let bus = Bus::connect(&system).await;
    let mut expected = Decimal::ZERO;
    let mut line_count = 0;
    let mut acks = Vec::new();
    let started = Instant::now();
    for i in 0..ORDERS {
        // Every fifth order has two lines; amounts differ so a lost or doubled credit shows.
        let lines: Vec<PaidOrderLine> = (0..if i % 5 == 0 { 2 } else { 1 })
            .map(|j| PaidOrderLine {
                payment_order_no: 1_000_000 + i * 10 + j,
                product_no: 1 + j,
                seller_no: 1,
                product_name: "상품A".into(),
                amount: Decimal::from(1000 + i) + Decimal::new(j * 50, 2),
            })
            .collect();
        let total: Decimal = lines.iter().map(|l| l.amount).sum();
        expected += total;
        line_count += lines.len() as i64;
        let event = Envelope::new(PaymentConfirmed {
            payment_event_no: 500_000 + i,
            member_no: 7,
            order_id: format!("bulk-order-{i:04}"),
            order_name: "상품A".into(),
            payment_key: format!("pk-{i}"),
            method: "카드".into(),
            approved_at: Utc::now(),
            total_amount: total,
            ordered_at: Utc::now(),
            lines,
        });
        let msg_id = event.event_id.to_string();
        acks.push(bus.publish_pending(&event, &msg_id).await);
    }
    for ack in acks {
        ack.await.expect("stream ack");
    }
    let published = started.elapsed();

    let wallet_body = eventually(
        Duration::from_secs(120),
        "the exact sum credited",
        || async {
            let (status, w) = wallet(&system, 1).await;
            (status == 200 && dec(&w["balance"]) == expected).then_some(w)
        },
    )
    .await;
    let elapsed = started.elapsed();
    bus.wait_idle(&topology::ORDERS, "wallet-settlement", WAIT)
        .await;
    // Every order settled on its first delivery: contention never exhausted the handler's
    // retries. (A message that exhausts them is redelivered, and after `max_deliver` (3)
    // dead-lettered: the seller would not be paid until an operator replays it.)
    let mut durable: PullConsumer = bus
        .js
        .get_consumer_from_stream(
            "wallet-settlement",
            bus.topology.stream_name(&topology::ORDERS),
        )
        .await
        .expect("durable");
    let deliveries = durable
        .info()
        .await
        .expect("consumer info")
        .delivered
        .consumer_sequence;
    eprintln!(
        "settled {ORDERS} orders ({line_count} lines, {expected} KRW) with 2 instances in \
         {elapsed:?} (published in {published:?}), {deliveries} deliveries"
    );
    assert_eq!(deliveries, ORDERS as u64, "settlements were redelivered");

    let (_, w) = wallet(&system, 1).await;
    assert_eq!(dec(&w["balance"]), expected, "nothing credited twice: {w}");
    // Sales reach wallets.balance when folded (the rollup job, or the next writer that needs
    // the exact balance), so `version` counts folds: at least one, at most one per order.
    let version = w["version"].as_i64().unwrap_or(0);
    assert!(
        (0..=ORDERS).contains(&version),
        "at most one balance change per order: {wallet_body}"
    );
    assert_eq!(dec(&w["pending"]), expected, "every sale pending once: {w}");
    let pool = system.db(&wallet_service::SPEC).await;
    let (rows, lines, sum, nodes): (i64, i64, Decimal, i64) = sqlx::query_as(
        "select count(*), count(distinct payment_order_no), sum(amount),
                count(distinct (id >> 12) & 1023)
         from wallet_transactions where wallet_no = 1",
    )
    .fetch_one(&pool)
    .await
    .expect("ledger");
    assert_eq!((rows, lines, sum), (line_count, line_count, expected));
    assert_eq!(nodes, 2, "both instances settled orders");
    let parked: i64 = sqlx::query_scalar("select count(*) from pending_settlements")
        .fetch_one(&pool)
        .await
        .expect("parked");
    let dead: i64 = sqlx::query_scalar("select count(*) from dead_letters")
        .fetch_one(&pool)
        .await
        .expect("dead letters");
    assert_eq!((parked, dead), (0, 0));
    pool.close().await;

    let settled = eventually(WAIT, "one wallet.settled per order", || async {
        let m = bus.envelopes(&topology::WALLETS, "wallet.settled").await;
        (m.len() as i64 >= ORDERS).then_some(m)
    })
    .await;
    let mut orders: Vec<&str> = settled
        .iter()
        .map(|m| m["payload"]["orderId"].as_str().expect("orderId"))
        .collect();
    orders.sort();
    orders.dedup();
    assert_eq!(
        (settled.len() as i64, orders.len() as i64),
        (ORDERS, ORDERS)
    );

    second.stop().await.expect("second instance stops");
    system.stop().await;
}

/// 8. A sale for a seller whose wallet does not exist yet (the onboarding saga lags): the
/// other seller of the order is credited at once, this seller's line is parked and nothing
/// announces the order as settled; when `seller.registered` arrives the wallet is created with
/// the parked credit, once, `wallet.settled` names both sellers, the order becomes
/// `isWalletDone` and the seller ACTIVE. A repeated registration credits nothing again.
#[tokio::test]
async fn a_sale_before_the_sellers_wallet_is_parked_then_credited_once() {
    const LATE: i64 = 77;
    let system = start_seeded(&[]).await;
    // Seller 77 registered (PENDING) and listed product 10, but its seller.registered has not
    // reached wallet-service yet.
    let catalog = system.db(&catalog_service::SPEC).await;
    sqlx::query(
        "insert into products (product_no, seller_no, name, description, price)
         values (10, $1, '늦은상품', '', 4500)",
    )
    .bind(LATE)
    .execute(&catalog)
    .await
    .expect("product");
    catalog.close().await;
    let sellers = system.db(&seller_service::SPEC).await;
    sqlx::query(
        "insert into sellers (seller_no, seller_id, status) values ($1, 'late', 'PENDING')",
    )
    .bind(LATE)
    .execute(&sellers)
    .await
    .expect("seller");
    sellers.close().await;

    let order = new_order(&system, &[10, 1]).await;
    let order_id = order.order_id.clone();
    assert_eq!(dec(&order.amount), Decimal::from(5500));
    let payment_key = approve(&system, &order).await;
    let (status, confirmed) = confirm(&system, &payment_key, &order_id, order.amount).await;
    assert_eq!(status, 200, "{confirmed}");

    // Seller 1 is credited at once; seller 77's line waits.
    eventually(WAIT, "seller 1 credited", || async {
        let (_, w) = wallet(&system, 1).await;
        (dec(&w["balance"]) == Decimal::from(1000)).then_some(())
    })
    .await;
    let bus = Bus::connect(&system).await;
    bus.wait_idle(&topology::ORDERS, "wallet-settlement", WAIT)
        .await;
    let pool = system.db(&wallet_service::SPEC).await;
    let parked: Vec<(i64, Decimal, String)> =
        sqlx::query_as("select seller_no, amount, order_id from pending_settlements")
            .fetch_all(&pool)
            .await
            .expect("parked");
    assert_eq!(parked, vec![(LATE, Decimal::from(4500), order_id.clone())]);
    let (status, missing) = wallet(&system, LATE).await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["code"], "WALLET_NOT_FOUND");
    assert_eq!(payment(&system, &order_id).await["isWalletDone"], false);
    let settled_for_order = || async {
        bus.envelopes(&topology::WALLETS, "wallet.settled")
            .await
            .into_iter()
            .filter(|m| m["payload"]["orderId"] == order_id.as_str())
            .collect::<Vec<_>>()
    };
    let announced: i64 = sqlx::query_scalar(
        "select count(*) from outbox
         where event_type = 'wallet.settled' and payload -> 'payload' ->> 'orderId' = $1",
    )
    .bind(&order_id)
    .fetch_one(&pool)
    .await
    .expect("outbox");
    assert_eq!(
        announced, 0,
        "an order is not settled while a line is parked"
    );
    assert!(settled_for_order().await.is_empty());

    // The registration arrives: the wallet is created with the parked credit.
    let registered = Envelope::new(SellerRegistered {
        seller_no: LATE,
        seller_id: "late".into(),
    });
    bus.publish(&registered).await;
    let w = eventually(WAIT, "seller 77's wallet credited", || async {
        let (status, w) = wallet(&system, LATE).await;
        (status == 200 && dec(&w["balance"]) == Decimal::from(4500)).then_some(w)
    })
    .await;
    assert!(w["version"].as_i64().is_some_and(|v| v <= 1), "{w}");
    let ledger = w["recentTransactions"].as_array().expect("ledger");
    assert_eq!(ledger.len(), 1, "{w}");
    assert_eq!(ledger[0]["orderId"], order_id.as_str());
    assert_eq!(dec(&ledger[0]["amount"]), Decimal::from(4500));

    eventually(WAIT, "isWalletDone", || async {
        (payment(&system, &order_id).await["isWalletDone"] == true).then_some(())
    })
    .await;
    let settled = settled_for_order().await;
    assert_eq!(settled.len(), 1, "{settled:?}");
    let mut credits: Vec<(String, Decimal)> = settled[0]["payload"]["credits"]
        .as_array()
        .expect("credits")
        .iter()
        .map(|c| {
            (
                c["sellerNo"].as_str().expect("seller").to_string(),
                dec(&c["amount"]),
            )
        })
        .collect();
    credits.sort();
    assert_eq!(
        credits,
        vec![
            ("1".to_string(), Decimal::from(1000)),
            ("77".to_string(), Decimal::from(4500)),
        ]
    );
    wait_active(&system, LATE).await;

    // A second registration event (a replayed or duplicated saga step) credits nothing again.
    let again = Envelope::new(SellerRegistered {
        seller_no: LATE,
        seller_id: "late".into(),
    });
    bus.publish(&again).await;
    bus.wait_idle(&topology::SELLERS, "wallet-onboarding", WAIT)
        .await;
    let (_, w) = wallet(&system, LATE).await;
    assert_eq!(dec(&w["balance"]), Decimal::from(4500), "{w}");
    assert!(w["version"].as_i64().is_some_and(|v| v <= 1), "{w}");
    let (rows, parked): (i64, i64) = sqlx::query_as(
        "select (select count(*) from wallet_transactions where order_id = $1),
                (select count(*) from pending_settlements)",
    )
    .bind(&order_id)
    .fetch_one(&pool)
    .await
    .expect("ledger");
    assert_eq!((rows, parked), (2, 0));
    assert_eq!(settled_for_order().await.len(), 1);
    let (_, w1) = wallet(&system, 1).await;
    assert_eq!(dec(&w1["balance"]), Decimal::from(1000));
    pool.close().await;
    system.stop().await;
}
