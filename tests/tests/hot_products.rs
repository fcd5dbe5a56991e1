//! Hot products end to end: events published straight into the test namespace's streams (as
//! the like, review, order and catalog services' outboxes would, with `Nats-Msg-Id`), the
//! ranking read over HTTP. A second hot-catalog instance with a [`ManualClock`] shares the
//! system's Redis ranking and database, so scores can be read at chosen instants: the stored
//! scores depend only on event times, the clock only on how far they have decayed.

use std::{sync::Arc, time::Duration};

use tokio::time::{sleep, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use events::{
    Envelope, Event, LikeChanged, PaidOrderLine, PaymentConfirmed, ProductChanged, ProductCreated,
    ProductLiked, ProductUnliked, ProductUpdated, ReviewChanged, ReviewCreated, ReviewDeleted,
    Topology,
};
use hot_catalog_service::ManualClock;
use paymsa_e2e::TestSystem;
use serde_json::Value;
use service_kit::{testing::test_config, App};

const WAIT: Duration = Duration::from_secs(30);
const DAY: TimeDelta = TimeDelta::hours(24);

struct Publisher {
    js: async_nats::jetstream::Context,
    topology: Topology,
}

impl Publisher {
    async fn connect(namespace: &str) -> Self {
        let url = std::env::var("TEST_NATS_URL").expect("TEST_NATS_URL");
        let client = async_nats::connect(url).await.expect("nats");
        Self {
            js: async_nats::jetstream::new(client),
            topology: Topology::new(namespace),
        }
    }

    /// Publishes as an outbox relay does: `Nats-Msg-Id` = the event id.
    async fn send<E: Event>(&self, event: &Envelope<E>) {
        self.send_as(event, &event.event_id.to_string()).await;
    }

    /// Publishes with another `Nats-Msg-Id`, as a dead-letter replay does: the server stores
    /// it again, so consumers see the same event id twice.
    async fn send_as<E: Event>(&self, event: &Envelope<E>, msg_id: &str) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let body = serde_json::to_vec(event).expect("json");
        let ack = self
            .js
            .publish_with_headers(self.topology.subject(E::TYPE), headers, body.into())
            .await
            .expect("publish")
            .await
            .expect("stored");
        assert!(!ack.duplicate, "a new Nats-Msg-Id is stored");
    }

    /// Waits until durable `consumer` of `stream` has handled and acked everything.
    async fn settled(&self, stream: &events::StreamDef, consumer: &str) {
        let name = self.topology.stream_name(stream);
        let deadline = Instant::now() + WAIT;
        loop {
            let stream = self.js.get_stream(&name).await.expect("stream exists");
            let info = stream
                .consumer_info(consumer)
                .await
                .expect("consumer exists");
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{consumer} did not drain: {info:?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }
}

fn like(product_no: i64, member_no: i64, liked_at: DateTime<Utc>) -> LikeChanged {
    LikeChanged {
        product_no,
        member_no,
        liked_at,
    }
}

fn review(no: i64, product_no: i64, stars: u8, created_at: DateTime<Utc>) -> ReviewChanged {
    ReviewChanged {
        product_review_no: no,
        product_no,
        member_no: no,
        star_rating: stars,
        created_at,
    }
}

fn payment(no: i64, product_nos: &[i64], approved_at: DateTime<Utc>) -> PaymentConfirmed {
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

fn product(product_no: i64, name: &str, version: i64) -> ProductChanged {
    ProductChanged {
        product_no,
        seller_no: 77,
        name: name.into(),
        description: String::new(),
        price: "1500.50".parse().expect("decimal"),
        version,
    }
}

async fn get(system: &TestSystem, base: &str, query: &str) -> (u16, Value) {
    let response = system
        .http
        .get(format!("{base}/api/hot-products{query}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

/// The products of a 200 answer.
async fn products(system: &TestSystem, base: &str, query: &str) -> Vec<Value> {
    let (status, body) = get(system, base, query).await;
    assert_eq!(status, 200, "{body}");
    body["products"].as_array().cloned().unwrap_or_default()
}

/// Polls the ranking until `done` holds for it.
async fn ranked_when(
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

fn find(products: &[Value], product_no: i64) -> Option<Value> {
    let no = product_no.to_string();
    products
        .iter()
        .find(|p| p["productNo"] == no.as_str())
        .cloned()
}

fn score(products: &[Value], product_no: i64) -> f64 {
    find(products, product_no)
        .and_then(|p| p["score"].as_f64())
        .unwrap_or_else(|| panic!("product {product_no} not ranked: {products:?}"))
}

fn numbers(products: &[Value]) -> Vec<i64> {
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

fn assert_rel(a: f64, b: f64, tolerance: f64) {
    assert!(
        (a - b).abs() <= tolerance * a.abs().max(b.abs()),
        "{a} vs {b} (relative tolerance {tolerance})"
    );
}

/// A second hot-catalog instance on the system's namespace and database, reading the same
/// ranking through `clock`.
async fn clocked_instance(system: &TestSystem, clock: &ManualClock) -> (App, String) {
    let config = test_config(&hot_catalog_service::SPEC, &system.namespace);
    let app = hot_catalog_service::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .expect("clocked instance starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    (app, base)
}

/// Millisecond precision, as events store their times.
fn now_ms() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .expect("truncates")
}

#[tokio::test]
async fn purchases_outrank_likes_rank_order_is_kept_and_limit_is_validated() {
    let system = TestSystem::start().await;
    let base = system.url("hot-catalog-service");
    let bus = Publisher::connect(&system.namespace).await;
    let now = now_ms();

    // 101: one paid order line (10); 102: one like (2); 300+i: i likes (2i), i ≠ 5 so no ties;
    // 401: reviews of 4 and 5 stars (23 + 28), then the 5-star one deleted (23).
    bus.send(&Envelope::new(payment(1, &[101], now))).await;
    bus.send(&Envelope::new(ProductLiked(like(102, 1, now))))
        .await;
    let counts = [2, 3, 4, 6, 7, 8, 9, 10, 11];
    for i in counts {
        for member in 0..i {
            bus.send(&Envelope::new(ProductLiked(like(300 + i, member, now))))
                .await;
        }
    }
    bus.send(&Envelope::new(ReviewCreated(review(1, 401, 4, now))))
        .await;
    bus.send(&Envelope::new(ReviewCreated(review(2, 401, 5, now))))
        .await;
    bus.send(&Envelope::new(ReviewDeleted(review(2, 401, 5, now))))
        .await;
    // Details: 101 at v1, v3, then a late v2 that must not win; 102 never announced.
    bus.send(&Envelope::new(ProductCreated(product(101, "v1", 1))))
        .await;
    bus.send(&Envelope::new(ProductUpdated(product(101, "Widget", 3))))
        .await;
    bus.send(&Envelope::new(ProductUpdated(product(101, "stale v2", 2))))
        .await;
    bus.send(&Envelope::new(ProductCreated(product(311, "Gadget", 1))))
        .await;
    for (stream, consumer) in [
        (&events::topology::LIKES, "hot-catalog-likes"),
        (&events::topology::REVIEWS, "hot-catalog-reviews"),
        (&events::topology::ORDERS, "hot-catalog-orders"),
        (&events::topology::CATALOG, "hot-catalog-products"),
    ] {
        bus.settled(stream, consumer).await;
    }

    let all = products(&system, &base, "?limit=100").await;
    let mut expected = vec![401, 311, 310, 309, 308, 307, 306, 101, 304, 303, 302, 102];
    assert_eq!(numbers(&all), expected, "rank order by score");
    let ranks: Vec<i64> = all.iter().filter_map(|p| p["rank"].as_i64()).collect();
    assert_eq!(ranks, (1..=12).collect::<Vec<_>>());
    // Scores are decayed to now: a few seconds of a day's half-life is far below 1e-3.
    for (no, want) in [(401, 23.0), (311, 22.0), (101, 10.0), (102, 2.0)] {
        assert_rel(score(&all, no), want, 1e-3);
    }
    assert!(
        all.windows(2)
            .all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64()),
        "scores never increase down the list"
    );

    let bought = find(&all, 101).expect("101");
    assert_eq!(bought["name"], "Widget", "a late older event does not win");
    assert_eq!(bought["price"], "1500.5");
    assert_eq!(bought["sellerNo"], "77");
    assert_eq!(bought["paidOrderLines"], 1);
    let unknown = find(&all, 102).expect("102 ranked without details");
    assert!(unknown["name"].is_null() && unknown["price"].is_null());
    assert_eq!(unknown["likeCount"], 1);
    let reviewed = find(&all, 401).expect("401");
    assert_eq!(reviewed["reviewCount"], 1);
    assert_eq!(reviewed["averageRating"], 4.0);
    assert!(find(&all, 310).expect("310")["averageRating"].is_null());
    assert_eq!(find(&all, 310).expect("310")["likeCount"], 10);

    // Default limit 10, explicit limits, and validation.
    expected.truncate(10);
    assert_eq!(numbers(&products(&system, &base, "").await), expected);
    assert_eq!(
        numbers(&products(&system, &base, "?limit=3").await),
        vec![401, 311, 310]
    );
    for bad in ["0", "101", "-1", "ten"] {
        let (status, body) = get(&system, &base, &format!("?limit={bad}")).await;
        assert_eq!(status, 400, "limit={bad}: {body}");
        assert!(body["code"].is_string(), "problem+json with a code: {body}");
    }
    system.stop().await;
}

#[tokio::test]
async fn scores_decay_with_event_age_and_halve_per_half_life_and_unlike_is_exact() {
    let system = TestSystem::start().await;
    let bus = Publisher::connect(&system.namespace).await;
    let t0 = now_ms();
    let clock = ManualClock::new(t0);
    let (clocked, base) = clocked_instance(&system, &clock).await;

    // The same kind of event, one half-life and two half-lives older.
    bus.send(&Envelope::new(ProductLiked(like(1, 1, t0)))).await;
    bus.send(&Envelope::new(ProductLiked(like(2, 1, t0 - DAY))))
        .await;
    bus.send(&Envelope::new(payment(1, &[3], t0 - DAY * 2)))
        .await;
    let ranked = ranked_when(&system, &base, "three products ranked", |p| p.len() == 3).await;
    assert_eq!(numbers(&ranked), vec![3, 1, 2]);
    assert_rel(score(&ranked, 1), 2.0, 1e-9);
    assert_rel(score(&ranked, 2), 1.0, 1e-9);
    assert_rel(score(&ranked, 3), 2.5, 1e-9);

    // One half-life later every score has halved; the order is unchanged.
    clock.advance(DAY);
    let later = products(&system, &base, "").await;
    assert_eq!(numbers(&later), vec![3, 1, 2]);
    for no in [1, 2, 3] {
        assert_rel(score(&later, no), score(&ranked, no) / 2.0, 1e-9);
    }

    // Like and unlike (carrying the like's time) leave the score exactly as before.
    let before = score(&later, 3);
    let liked = like(3, 9, t0 - TimeDelta::minutes(37));
    bus.send(&Envelope::new(ProductLiked(liked.clone()))).await;
    let with_like = ranked_when(&system, &base, "the like counted", |p| {
        find(p, 3).is_some_and(|x| x["likeCount"] == 1)
    })
    .await;
    assert!(score(&with_like, 3) > before);
    bus.send(&Envelope::new(ProductUnliked(liked))).await;
    let after = ranked_when(&system, &base, "the unlike counted", |p| {
        find(p, 3).is_some_and(|x| x["likeCount"] == 0)
    })
    .await;
    assert_rel(score(&after, 3), before, 1e-9);

    clocked.stop().await.expect("clean stop");
    system.stop().await;
}

#[tokio::test]
async fn replayed_events_change_no_score() {
    let system = TestSystem::start().await;
    let bus = Publisher::connect(&system.namespace).await;
    let t0 = now_ms();
    let clock = ManualClock::new(t0);
    let (clocked, base) = clocked_instance(&system, &clock).await;

    let liked = Envelope::new(ProductLiked(like(7, 1, t0)));
    let reviewed = Envelope::new(ReviewCreated(review(1, 8, 3, t0)));
    let paid = Envelope::new(payment(1, &[9, 9], t0));
    bus.send(&liked).await;
    bus.send(&reviewed).await;
    bus.send(&paid).await;
    let first = ranked_when(&system, &base, "three products ranked", |p| p.len() == 3).await;

    // Each event again under a new Nats-Msg-Id (a replay), twice over.
    for n in 1..=2 {
        bus.send_as(&liked, &format!("replay-{n}-{}", liked.event_id))
            .await;
        bus.send_as(&reviewed, &format!("replay-{n}-{}", reviewed.event_id))
            .await;
        bus.send_as(&paid, &format!("replay-{n}-{}", paid.event_id))
            .await;
    }
    bus.settled(&events::topology::LIKES, "hot-catalog-likes")
        .await;
    bus.settled(&events::topology::REVIEWS, "hot-catalog-reviews")
        .await;
    bus.settled(&events::topology::ORDERS, "hot-catalog-orders")
        .await;

    let again = products(&system, &base, "").await;
    assert_eq!(numbers(&again), numbers(&first));
    for (no, want) in [(7, 2.0), (8, 18.0), (9, 20.0)] {
        assert_rel(score(&again, no), want, 1e-9);
        assert_rel(score(&again, no), score(&first, no), 1e-12);
    }
    assert_eq!(find(&again, 7).expect("7")["likeCount"], 1);
    assert_eq!(find(&again, 8).expect("8")["reviewCount"], 1);
    assert_eq!(find(&again, 9).expect("9")["paidOrderLines"], 2);

    // The six replays were delivered and recognised (by either instance).
    let mut duplicates = 0.0;
    for url in [system.url("hot-catalog-service"), base.clone()] {
        let text = system
            .http
            .get(format!("{url}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        duplicates += text
            .lines()
            .filter(|l| l.starts_with("paymsa_hot_events_total") && l.contains("duplicate"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    assert_eq!(duplicates, 6.0);

    clocked.stop().await.expect("clean stop");
    system.stop().await;
}
