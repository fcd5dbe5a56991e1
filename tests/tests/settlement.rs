//! Wallet settlement under load and across the onboarding saga: concurrent workers crediting
//! one wallet lose nothing and credit nothing twice, and a sale that beats its seller's
//! wallet is parked, then credited exactly once when the wallet is created.
//!
//! The system runs in-process with the seed data (seller 1 with wallet 1, products 1/2/3).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, consumer::PullConsumer};
use chrono::Utc;
use events::{
    Envelope, Event, PaidOrderLine, PaymentConfirmed, SellerRegistered, StreamDef, Topology,
};
use paymsa_e2e::{eventually, TestSystem};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// helpers

async fn start() -> TestSystem {
    let system = TestSystem::start_with(HashMap::new()).await;
    for (spec, seed) in [
        (
            &catalog_service::SPEC,
            include_str!("../../seed/catalog-service.sql"),
        ),
        (
            &wallet_service::SPEC,
            include_str!("../../seed/wallet-service.sql"),
        ),
        (
            &seller_service::SPEC,
            include_str!("../../seed/seller-service.sql"),
        ),
    ] {
        let pool = system.db(spec).await;
        sqlx::raw_sql(seed)
            .execute(&pool)
            .await
            .expect("seed loads");
        pool.close().await;
    }
    system
}

async fn jetstream() -> jetstream::Context {
    let url = std::env::var("TEST_NATS_URL").expect("TEST_NATS_URL");
    let client = async_nats::connect(url).await.expect("NATS reachable");
    jetstream::new(client)
}

/// Publishes an event as its producer's outbox relay would: namespaced subject, `Nats-Msg-Id`
/// = eventId. Returns the ack future, so many can be in flight.
async fn publish<E: Event>(
    js: &jetstream::Context,
    topology: &Topology,
    envelope: &Envelope<E>,
) -> jetstream::context::PublishAckFuture {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", envelope.event_id.to_string().as_str());
    js.publish_with_headers(
        topology.subject(E::TYPE),
        headers,
        serde_json::to_vec(envelope).expect("envelope").into(),
    )
    .await
    .expect("published")
}

/// Waits until a durable consumer has nothing pending or unacknowledged.
async fn consumer_idle(system: &TestSystem, stream: &StreamDef, durable: &str) {
    let js = jetstream().await;
    let stream = Topology::new(system.namespace.clone()).stream_name(stream);
    eventually(WAIT, &format!("{durable} to drain"), || {
        let js = js.clone();
        let stream = stream.clone();
        async move {
            let mut consumer: PullConsumer =
                js.get_consumer_from_stream(durable, &stream).await.ok()?;
            let info = consumer.info().await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
}

/// The envelopes on `subject` (unqualified) in the namespace's `stream`, oldest first.
async fn stream_messages(system: &TestSystem, stream: &StreamDef, subject: &str) -> Vec<Value> {
    use futures::StreamExt;
    let js = jetstream().await;
    let topology = Topology::new(system.namespace.clone());
    let stream = js
        .get_stream(topology.stream_name(stream))
        .await
        .expect("stream exists");
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: topology.subject(subject),
            ack_policy: jetstream::consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .expect("ephemeral consumer");
    let mut envelopes = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .messages()
            .await
            .expect("fetch");
        let before = envelopes.len();
        while let Some(message) = batch.next().await {
            let message = message.expect("message");
            envelopes.push(serde_json::from_slice(&message.payload).expect("envelope"));
        }
        if envelopes.len() == before {
            return envelopes;
        }
    }
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request answered");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn wallet(system: &TestSystem, seller_no: i64) -> (u16, Value) {
    send(system.http.get(format!(
        "{}/api/wallets/sellers/{seller_no}",
        system.url("wallet-service")
    )))
    .await
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().expect("decimal"),
        other => other.to_string().parse().expect("decimal"),
    }
}

// ---------------------------------------------------------------------------------------
// tests

/// 7. 500 paid orders of one seller, settled by two wallet-service instances sharing the
/// `wallet-settlement` durable (4 concurrent handlers each, so 8 workers race for one wallet
/// row): the balance is the exact sum, one ledger row per line, no update lost, `version`
/// counts the balance changes, nothing parked or dead-lettered, one `wallet.settled` per order.
#[tokio::test]
async fn five_hundred_concurrent_settlements_lose_no_update() {
    const ORDERS: i64 = 500;
    let system = start().await;
    // A second instance of wallet-service: same database and namespace, its own node id (ids
    // must not collide) and its own relay membership.
    let mut config = service_kit::testing::test_config(&wallet_service::SPEC, &system.namespace);
    config.node_id = 33;
    let second = wallet_service::build(config)
        .await
        .expect("second wallet-service starts");

    let js = jetstream().await;
    let topology = Topology::new(system.namespace.clone());
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
        acks.push(publish(&js, &topology, &event).await);
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
    consumer_idle(&system, &events::topology::ORDERS, "wallet-settlement").await;
    // Every order settled on its first delivery: contention never exhausted the handler's
    // retries. (A message that exhausts them is redelivered, and after `max_deliver` (3)
    // dead-lettered: the seller would not be paid until an operator replays it.)
    let mut durable: PullConsumer = js
        .get_consumer_from_stream(
            "wallet-settlement",
            topology.stream_name(&events::topology::ORDERS),
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
    assert_eq!(
        w["version"],
        json!(ORDERS),
        "one balance change per order: {wallet_body}"
    );
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
        let m = stream_messages(&system, &events::topology::WALLETS, "wallet.settled").await;
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
    let system = start().await;
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

    let order_url = system.url("order-service");
    let (status, order) = send(
        system
            .http
            .post(format!("{order_url}/api/checkouts"))
            .json(&json!({"memberNo": "7", "productNos": ["10", "1"]})),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["orderId"].as_str().expect("orderId").to_string();
    assert_eq!(dec(&order["amount"]), Decimal::from(5500));
    let (status, approval) = send(
        system
            .http
            .post(format!("{}/sandbox/approvals", system.url("psp-sandbox")))
            .json(&json!({"orderId": order_id, "amount": order["amount"], "orderName": order["orderName"]})),
    )
    .await;
    assert_eq!(status, 201, "{approval}");
    let (status, confirmed) = send(
        system
            .http
            .post(format!("{order_url}/api/payments/confirm"))
            .json(&json!({
                "paymentKey": approval["paymentKey"],
                "orderId": order_id,
                "amount": order["amount"],
            })),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");

    // Seller 1 is credited at once; seller 77's line waits.
    eventually(WAIT, "seller 1 credited", || async {
        let (_, w) = wallet(&system, 1).await;
        (dec(&w["balance"]) == Decimal::from(1000)).then_some(())
    })
    .await;
    consumer_idle(&system, &events::topology::ORDERS, "wallet-settlement").await;
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
    let payment = |system: &TestSystem| {
        let url = format!("{order_url}/api/payments/{order_id}");
        let http = system.http.clone();
        async move { send(http.get(url)).await.1 }
    };
    assert_eq!(payment(&system).await["isWalletDone"], false);
    let settled_for_order = || async {
        stream_messages(&system, &events::topology::WALLETS, "wallet.settled")
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
    let js = jetstream().await;
    let topology = Topology::new(system.namespace.clone());
    let registered = Envelope::new(SellerRegistered {
        seller_no: LATE,
        seller_id: "late".into(),
    });
    publish(&js, &topology, &registered)
        .await
        .await
        .expect("ack");
    let w = eventually(WAIT, "seller 77's wallet credited", || async {
        let (status, w) = wallet(&system, LATE).await;
        (status == 200 && dec(&w["balance"]) == Decimal::from(4500)).then_some(w)
    })
    .await;
    assert_eq!(w["version"], 1, "{w}");
    let ledger = w["recentTransactions"].as_array().expect("ledger");
    assert_eq!(ledger.len(), 1, "{w}");
    assert_eq!(ledger[0]["orderId"], order_id.as_str());
    assert_eq!(dec(&ledger[0]["amount"]), Decimal::from(4500));

    eventually(WAIT, "isWalletDone", || async {
        (payment(&system).await["isWalletDone"] == true).then_some(())
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
    eventually(WAIT, "seller 77 ACTIVE", || async {
        let (_, s) = send(system.http.get(format!(
            "{}/api/sellers/{LATE}",
            system.url("seller-service")
        )))
        .await;
        (s["status"] == "ACTIVE").then_some(())
    })
    .await;

    // A second registration event (a replayed or duplicated saga step) credits nothing again.
    let again = Envelope::new(SellerRegistered {
        seller_no: LATE,
        seller_id: "late".into(),
    });
    publish(&js, &topology, &again).await.await.expect("ack");
    consumer_idle(&system, &events::topology::SELLERS, "wallet-onboarding").await;
    let (_, w) = wallet(&system, LATE).await;
    assert_eq!(
        (dec(&w["balance"]), &w["version"]),
        (Decimal::from(4500), &json!(1))
    );
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
