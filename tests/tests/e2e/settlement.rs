//! Wallet settlement under load and across the onboarding saga: concurrent workers crediting
//! one wallet lose nothing and credit nothing twice, and a sale that beats its seller's
//! wallet is parked, then credited exactly once when the wallet is created.
//!
//! Only wallet-service runs (and seller-service for the saga's last step), with the seed data
//! (seller 1 with wallet 1): the paid orders are `order.payment.confirmed` envelopes published
//! as order-service's outbox would, so no checkout or PSP is involved.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use events::{topology, Envelope, PaidOrderLine, PaymentConfirmed, SellerRegistered};
use paymsa_e2e::{
    eventually,
    money::{wallet, wallet_of},
    sellers::wait_active,
    streams::Bus,
    values::dec,
    TestSystem,
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
    let system = TestSystem::builder()
        .only(["wallet-service"])
        .seeded()
        .start()
        .await;
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

    eventually(
        Duration::from_secs(120),
        "the exact sum credited",
        || async { (wallet_of(&system, 1).await.balance == expected).then_some(()) },
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

    let w = wallet_of(&system, 1).await;
    assert_eq!(w.balance, expected, "nothing credited twice: {w:?}");
    // Sales reach wallets.balance when folded (the rollup job, or the next writer that needs
    // the exact balance), so `version` counts folds: at least one, at most one per order.
    assert!(
        (0..=ORDERS).contains(&w.version),
        "at most one balance change per order: {w:?}"
    );
    assert_eq!(w.pending, expected, "every sale pending once: {w:?}");
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
/// the parked credit, once, one `wallet.settled` names both sellers (what makes order-service
/// mark the order `isWalletDone`, payments::a_confirmed_payment_is_settled_into_the_sellers_wallet)
/// and the seller becomes ACTIVE. A repeated registration credits nothing again.
#[tokio::test]
async fn a_sale_before_the_sellers_wallet_is_parked_then_credited_once() {
    const LATE: i64 = 77;
    let system = TestSystem::builder()
        .only(["wallet-service", "seller-service"])
        .seeded()
        .start()
        .await;
    // Seller 77 registered (PENDING), but its seller.registered has not reached wallet-service.
    let sellers = system.db(&seller_service::SPEC).await;
    sqlx::query(
        "insert into sellers (seller_no, seller_id, status) values ($1, 'late', 'PENDING')",
    )
    .bind(LATE)
    .execute(&sellers)
    .await
    .expect("seller");
    sellers.close().await;

    // A paid order of product 10 (seller 77, 4500) and product 1 (seller 1, 1000).
    let order_id = "late-seller-order-1".to_string();
    let line = |no: i64, product_no: i64, seller_no: i64, name: &str, amount: i64| PaidOrderLine {
        payment_order_no: no,
        product_no,
        seller_no,
        product_name: name.into(),
        amount: Decimal::from(amount),
    };
    let bus = Bus::connect(&system).await;
    bus.publish(&Envelope::new(PaymentConfirmed {
        payment_event_no: 770_001,
        member_no: 7,
        order_id: order_id.clone(),
        order_name: "늦은상품 외 1건".into(),
        payment_key: "pk-late".into(),
        method: "카드".into(),
        approved_at: Utc::now(),
        total_amount: Decimal::from(5500),
        ordered_at: Utc::now(),
        lines: vec![
            line(7_700_010, 10, LATE, "늦은상품", 4500),
            line(7_700_011, 1, 1, "상품A", 1000),
        ],
    }))
    .await;

    // Seller 1 is credited at once; seller 77's line waits.
    eventually(WAIT, "seller 1 credited", || async {
        (wallet_of(&system, 1).await.balance == Decimal::from(1000)).then_some(())
    })
    .await;
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

    let settled = eventually(WAIT, "the order settled", || async {
        let settled = settled_for_order().await;
        (!settled.is_empty()).then_some(settled)
    })
    .await;
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
    let w = wallet_of(&system, LATE).await;
    assert_eq!(w.balance, Decimal::from(4500), "{w:?}");
    assert!(w.version <= 1, "{w:?}");
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
    assert_eq!(wallet_of(&system, 1).await.balance, Decimal::from(1000));
    pool.close().await;
    system.stop().await;
}
