//! Fixtures of the hot-products suite: the events that feed the ranking, and reading the
//! ranking over HTTP (from the system's hot-catalog-service or a second, clocked instance).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use events::{LikeChanged, PaidOrderLine, PaymentConfirmed, ProductChanged, ReviewChanged};
use hot_catalog_service::ManualClock;
use serde_json::Value;
use service_kit::{testing::test_config, App};
use tokio::time::{sleep, Instant};

use crate::{http::send, TestSystem};

const WAIT: Duration = Duration::from_secs(30);

/// A like (or unlike) of `product_no` by `member_no`.
pub fn like(product_no: i64, member_no: i64, liked_at: DateTime<Utc>) -> LikeChanged {
    LikeChanged {
        product_no,
        member_no,
        liked_at,
    }
}

/// Review `no` of `product_no` (its author is member `no`).
pub fn review(no: i64, product_no: i64, stars: u8, created_at: DateTime<Utc>) -> ReviewChanged {
    ReviewChanged {
        product_review_no: no,
        product_no,
        member_no: no,
        star_rating: stars,
        created_at,
    }
}

/// Paid order `no` with one line of 1000 per product number.
pub fn payment(no: i64, product_nos: &[i64], approved_at: DateTime<Utc>) -> PaymentConfirmed {
    PaymentConfirmed {
        payment_event_no: no,
        member_no: 1,
        order_id: format!("order-{no}"),
        order_name: "hot".into(),
        payment_key: format!("key-{no}"),
        method: "CARD".into(),
        approved_at,
        total_amount: "1000".parse().expect("decimal"),
        ordered_at: approved_at,
        lines: product_nos
            .iter()
            .zip(1..)
            .map(|(&product_no, i)| PaidOrderLine {
                payment_order_no: no * 100 + i,
                product_no,
                seller_no: 1,
                product_name: format!("product {product_no}"),
                amount: "1000".parse().expect("decimal"),
            })
            .collect(),
    }
}

/// Details of `product_no` at `version` (seller 77, 1500.50).
pub fn product(product_no: i64, name: &str, version: i64) -> ProductChanged {
    ProductChanged {
        product_no,
        seller_no: 77,
        name: name.into(),
        description: String::new(),
        price: "1500.50".parse().expect("decimal"),
        version,
    }
}

/// `GET {base}/api/hot-products{query}`.
pub async fn get(system: &TestSystem, base: &str, query: &str) -> (u16, Value) {
    send(system.http.get(format!("{base}/api/hot-products{query}"))).await
}

/// The products of a 200 answer.
pub async fn products(system: &TestSystem, base: &str, query: &str) -> Vec<Value> {
    let (status, body) = get(system, base, query).await;
    assert_eq!(status, 200, "{body}");
    body["products"].as_array().cloned().unwrap_or_default()
}

/// Polls the ranking until `done` holds for it.
pub async fn ranked_when(
    system: &TestSystem,
    base: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let ranked = products(system, base, "?limit=100").await;
        if done(&ranked) {
            return ranked;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {ranked:?}"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

/// The ranked product `product_no`, if ranked.
pub fn find(products: &[Value], product_no: i64) -> Option<Value> {
    let no = product_no.to_string();
    products
        .iter()
        .find(|p| p["productNo"] == no.as_str())
        .cloned()
}

/// The score of a ranked product.
pub fn score(products: &[Value], product_no: i64) -> f64 {
    find(products, product_no)
        .and_then(|p| p["score"].as_f64())
        .unwrap_or_else(|| panic!("product {product_no} not ranked: {products:?}"))
}

/// The product numbers, in rank order.
pub fn numbers(products: &[Value]) -> Vec<i64> {
    products
        .iter()
        .map(|p| {
            p["productNo"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("productNo")
        })
        .collect()
}

/// `a` and `b` agree within a relative `tolerance`.
pub fn assert_rel(a: f64, b: f64, tolerance: f64) {
    assert!(
        (a - b).abs() <= tolerance * a.abs().max(b.abs()),
        "{a} vs {b} (relative tolerance {tolerance})"
    );
}

/// A second hot-catalog instance on the system's namespace and database, reading the same
/// ranking through `clock`.
pub async fn clocked_instance(system: &TestSystem, clock: &ManualClock) -> (App, String) {
    let config = test_config(&hot_catalog_service::SPEC, &system.namespace);
    let app = hot_catalog_service::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .expect("clocked instance starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    (app, base)
}

/// Millisecond precision, as events store their times.
pub fn now_ms() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .expect("truncates")
}
