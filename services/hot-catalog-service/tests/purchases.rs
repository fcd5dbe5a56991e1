//! Purchases and cancels in the ranking against real Redis (and, for the wiring, NATS): a
//! cancel takes a purchase back exactly once per (cancel, line) when the line is fully
//! refunded, partial refunds leave it, and the order of purchase and cancel does not matter.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use events::{
    CanceledLine, Envelope, Event, PaidOrderLine, PaymentCanceled, PaymentConfirmed,
    ProductChanged, ProductCreated,
};
use hot_catalog_service::{purchases::LineOp, Ranking, ScoreModel, Weights};
use rust_decimal::Decimal;
use service_kit::{infra::connect_redis, testing};

async fn ranking() -> Ranking {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let conn = connect_redis(&url).await.expect("redis reachable");
    let model = ScoreModel::new(Weights::default(), Duration::from_secs(86_400)).expect("model");
    Ranking::new(conn, &testing::unique_namespace(), model)
}

fn buy(line: i64, product_no: i64, at: DateTime<Utc>) -> LineOp {
    LineOp::Buy {
        payment_order_no: line,
        product_no,
        at_ms: at.timestamp_millis(),
        weight: 10.0,
    }
}

/// `refunded` of a line of 1000 won (minor units).
fn refund(line: i64, product_no: i64, cancel_no: i64, refunded: i64) -> LineOp {
    LineOp::Refund {
        payment_order_no: line,
        product_no,
        cancel_no,
        refunded: refunded * 100,
        line_amount: 100_000,
    }
}

/// (product, displayed score, paid lines) at `now`, best first.
async fn scores(r: &Ranking, now: DateTime<Utc>) -> Vec<(i64, f64, i64)> {
    let snap = r.top(100).await.expect("top");
    let Some(epoch) = snap.epoch_ms else {
        return Vec::new();
    };
    let model = r.model();
    snap.entries
        .iter()
        .map(|e| {
            (
                e.product_no,
                model.decayed(e.stored, epoch, now),
                e.paid_lines,
            )
        })
        .collect()
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()), "{a} vs {b}");
}

#[tokio::test]
async fn a_full_refund_takes_the_purchase_back_once() {
    let r = ranking().await;
    let now = Utc::now();
    let at = now - TimeDelta::hours(3);
    assert_eq!(
        r.apply_purchases(now, &[buy(11, 1, at), buy(12, 2, at), buy(13, 2, at)])
            .await
            .expect("buy"),
        3
    );
    // A re-emitted confirmed event (new eventId) adds nothing.
    assert_eq!(
        r.apply_purchases(now, &[buy(11, 1, at)])
            .await
            .expect("buy"),
        0
    );
    let before = scores(&r, now).await;
    assert_eq!(before[0].0, 2);
    assert_eq!(before[0].2, 2);

    // Cancel 9 refunds line 12 fully: product 2 drops to one purchase, exactly.
    assert_eq!(
        r.apply_purchases(now, &[refund(12, 2, 9, 1000)])
            .await
            .expect("refund"),
        1
    );
    assert_eq!(
        r.apply_purchases(now, &[refund(12, 2, 9, 1000)])
            .await
            .expect("again"),
        0
    );
    let after = scores(&r, now).await;
    let two = after
        .iter()
        .find(|e| e.0 == 2)
        .expect("product 2 still ranked");
    let one = after.iter().find(|e| e.0 == 1).expect("product 1 ranked");
    assert_close(two.1, before[0].1 / 2.0);
    assert_eq!(two.2, 1);
    assert_close(one.1, two.1);

    // Product 1's only purchase refunded: it leaves the ranking.
    r.apply_purchases(now, &[refund(11, 1, 10, 1000)])
        .await
        .expect("refund");
    let rest = scores(&r, now).await;
    assert_eq!(rest.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2]);
    r.purge().await.expect("purge");
}

#[tokio::test]
async fn partial_refunds_keep_the_purchase_until_the_line_is_fully_refunded() {
    let r = ranking().await;
    let now = Utc::now();
    r.apply_purchases(now, &[buy(21, 5, now)])
        .await
        .expect("buy");
    r.apply_purchases(now, &[refund(21, 5, 1, 400)])
        .await
        .expect("refund");
    let partial = scores(&r, now).await;
    assert_eq!(partial.len(), 1);
    assert_close(partial[0].1, 10.0);
    // The same cancel again changes nothing; another cancel completing the line removes it.
    assert_eq!(
        r.apply_purchases(now, &[refund(21, 5, 1, 400)])
            .await
            .expect("again"),
        0
    );
    assert_eq!(scores(&r, now).await.len(), 1);
    r.apply_purchases(now, &[refund(21, 5, 2, 600)])
        .await
        .expect("rest");
    assert!(scores(&r, now).await.is_empty());
    r.purge().await.expect("purge");
}

#[tokio::test]
async fn a_cancel_before_its_purchase_keeps_the_purchase_out() {
    let r = ranking().await;
    let now = Utc::now();
    r.apply_purchases(now, &[refund(31, 6, 1, 1000), refund(32, 7, 1, 500)])
        .await
        .expect("refunds");
    r.apply_purchases(now, &[buy(31, 6, now), buy(32, 7, now)])
        .await
        .expect("buys");
    let s = scores(&r, now).await;
    assert_eq!(
        s.iter().map(|e| (e.0, e.2)).collect::<Vec<_>>(),
        vec![(7, 1)]
    );
    r.purge().await.expect("purge");
}

/// Through the service: `hot-catalog-orders` takes `order.payment.canceled` too, and the
/// product's score and purchase count go down.
#[tokio::test]
async fn the_hot_ranking_drops_after_a_cancel() {
    let namespace = testing::unique_namespace();
    let config = testing::test_config(&hot_catalog_service::SPEC, &namespace);
    let db_url = config.database_url.clone().expect("database");
    let nats = async_nats::connect(config.nats_url.clone().expect("NATS_URL"))
        .await
        .expect("NATS");
    let app = hot_catalog_service::build(config).await.expect("starts");
    let js = async_nats::jetstream::new(nats);
    let topology = events::Topology::new(namespace.as_str());
    let publish = |subject: &'static str, body: Vec<u8>| {
        let js = js.clone();
        let subject = topology.subject(subject);
        async move {
            js.publish(subject, body.into())
                .await
                .expect("publish")
                .await
                .expect("ack")
        }
    };
    // The ranking shows only products the catalog has announced (src/api.rs).
    let announced = Envelope::new(ProductCreated(ProductChanged {
        product_no: 40,
        seller_no: 1,
        name: "p".into(),
        description: String::new(),
        price: Decimal::from(1000),
        version: 0,
    }));
    publish(
        ProductCreated::TYPE,
        serde_json::to_vec(&announced).expect("json"),
    )
    .await;
    let approved_at = Utc::now() - TimeDelta::minutes(1);
    let line = |no: i64, product_no: i64| PaidOrderLine {
        payment_order_no: no,
        product_no,
        seller_no: 1,
        product_name: "p".into(),
        amount: Decimal::from(1000),
    };
    let paid = Envelope::new(PaymentConfirmed {
        payment_event_no: 1,
        member_no: 1,
        order_id: "o-1".into(),
        order_name: "p".into(),
        payment_key: "pk".into(),
        method: "CARD".into(),
        approved_at,
        total_amount: Decimal::from(2000),
        ordered_at: approved_at,
        lines: vec![line(101, 40), line(102, 40)],
    });
    publish(
        PaymentConfirmed::TYPE,
        serde_json::to_vec(&paid).expect("json"),
    )
    .await;
    let url = format!("http://127.0.0.1:{}/api/hot-products", app.port());
    let product = |body: serde_json::Value| body["products"][0].clone();
    let first = wait_for(&url, |p| p["paidOrderLines"] == 2).await;

    let cancel = Envelope::new(PaymentCanceled {
        payment_event_no: 1,
        member_no: 1,
        order_id: "o-1".into(),
        cancel_no: 5,
        cancel_reason: "change of mind".into(),
        cancel_amount: Decimal::from(1000),
        refunded_total: Decimal::from(1000),
        balance_amount: Decimal::from(1000),
        total_amount: Decimal::from(2000),
        canceled_at: Utc::now(),
        status: "PARTIAL_CANCELED".into(),
        lines: vec![CanceledLine {
            payment_order_no: 102,
            product_no: 40,
            seller_no: 1,
            amount: Decimal::from(1000),
            line_amount: Decimal::from(1000),
        }],
    });
    publish(
        PaymentCanceled::TYPE,
        serde_json::to_vec(&cancel).expect("json"),
    )
    .await;
    let after = wait_for(&url, |p| p["paidOrderLines"] == 1).await;
    let (before, now) = (
        product(first)["score"].as_f64(),
        product(after)["score"].as_f64(),
    );
    let (before, now) = (before.expect("score"), now.expect("score"));
    assert!(now < before * 0.51, "{before} → {now}");

    let conn = connect_redis(
        &std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    )
    .await
    .expect("redis");
    let model = ScoreModel::new(Weights::default(), Duration::from_secs(86_400)).expect("model");
    Ranking::new(conn, &namespace, model)
        .purge()
        .await
        .expect("purge");
    let _ = app.stop().await;
    let _ = service_kit::db::drop_database(&db_url).await;
}

/// Polls the ranking until its first product satisfies `check`; returns the whole answer.
async fn wait_for(url: &str, check: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body: serde_json::Value = reqwest::get(url)
            .await
            .expect("GET")
            .json()
            .await
            .expect("json");
        if check(&body["products"][0]) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ranking never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
