//! Hot products end to end: events published straight into the test namespace's streams (as
//! the like, review, order and catalog services' outboxes would, with `Nats-Msg-Id`), the
//! ranking read over HTTP. A second hot-catalog instance with a [`ManualClock`] shares the
//! system's Redis ranking and database, so scores can be read at chosen instants: the stored
//! scores depend only on event times, the clock only on how far they have decayed.

use std::time::Duration;

use chrono::TimeDelta;
use events::{
    Envelope, ProductCreated, ProductLiked, ProductUnliked, ProductUpdated, ReviewCreated,
    ReviewDeleted,
};
use hot_catalog_service::ManualClock;
use paymsa_e2e::{
    hot_ranking::{
        assert_rel, clocked_instance, find, get, like, now_ms, numbers, payment, product, products,
        ranked_when, review, score,
    },
    http::metrics_text,
    streams::Bus,
    TestSystem,
};

const WAIT: Duration = Duration::from_secs(30);
const DAY: TimeDelta = TimeDelta::hours(24);

/// Announces `product_nos` as the catalog does (`catalog.product.created`, version 1): only
/// products the catalog announced are shown in the ranking.
async fn announce(bus: &Bus, product_nos: &[i64]) {
    for &no in product_nos {
        bus.publish(&Envelope::new(ProductCreated(product(
            no,
            &format!("상품 {no}"),
            1,
        ))))
        .await;
    }
}

/// Rows of `parked_likes` (services/hot-catalog-service/src/parked.rs) whose `column` is `value`.
async fn parked_rows(db: &sqlx::PgPool, column: &str, value: i64) -> i64 {
    sqlx::query_scalar(&format!(
        "select count(*) from parked_likes where {column} = $1"
    ))
    .bind(value)
    .fetch_one(db)
    .await
    .expect("parked likes readable")
}

#[tokio::test]
async fn purchases_outrank_likes_rank_order_is_kept_and_limit_is_validated() {
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let base = system.url("hot-catalog-service");
    let bus = Bus::connect(&system).await;
    let now = now_ms();

    // 101: one paid order line (10); 102: 20 likes, one taken back (38), announced last;
    // 300+i: i likes (2i), i ≠ 5 so no ties; 401: reviews of 4 and 5 stars (23 + 28), then the
    // 5-star one deleted (23).
    bus.publish(&Envelope::new(payment(1, &[101], now))).await;
    for member in 0..20 {
        bus.publish(&Envelope::new(ProductLiked(like(102, member, now))))
            .await;
    }
    let counts = [2, 3, 4, 6, 7, 8, 9, 10, 11];
    for i in counts {
        for member in 0..i {
            bus.publish(&Envelope::new(ProductLiked(like(300 + i, member, now))))
                .await;
        }
    }
    bus.publish(&Envelope::new(ReviewCreated(review(1, 401, 4, now))))
        .await;
    bus.publish(&Envelope::new(ReviewCreated(review(2, 401, 5, now))))
        .await;
    bus.publish(&Envelope::new(ReviewDeleted(review(2, 401, 5, now))))
        .await;
    // Details: 101 at v1, v3, then a late v2 that must not win; 102 never announced.
    bus.publish(&Envelope::new(ProductCreated(product(101, "v1", 1))))
        .await;
    bus.publish(&Envelope::new(ProductUpdated(product(101, "Widget", 3))))
        .await;
    bus.publish(&Envelope::new(ProductUpdated(product(101, "stale v2", 2))))
        .await;
    bus.publish(&Envelope::new(ProductCreated(product(311, "Gadget", 1))))
        .await;
    announce(&bus, &[302, 303, 304, 306, 307, 308, 309, 310, 401]).await;
    for (stream, consumer) in [
        (&events::topology::LIKES, "hot-catalog-likes"),
        (&events::topology::REVIEWS, "hot-catalog-reviews"),
        (&events::topology::ORDERS, "hot-catalog-orders"),
        (&events::topology::CATALOG, "hot-catalog-products"),
    ] {
        bus.wait_idle(stream, consumer, WAIT).await;
    }

    let all = products(&system, &base, "?limit=100").await;
    // 102 has more likes than any but the catalog never had it: kept out, ranks stay 1, 2, 3, …
    let mut expected = vec![401, 311, 310, 309, 308, 307, 306, 101, 304, 303, 302];
    assert_eq!(
        numbers(&all),
        expected,
        "rank order by score, known products only"
    );
    let ranks: Vec<i64> = all.iter().filter_map(|p| p["rank"].as_i64()).collect();
    assert_eq!(ranks, (1..=11).collect::<Vec<_>>());
    // Scores are decayed to now: a few seconds of a day's half-life is far below 1e-3.
    for (no, want) in [(401, 23.0), (311, 22.0), (101, 10.0)] {
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
    assert!(
        all.iter()
            .all(|p| p["name"].is_string() && p["sellerNo"].is_string()),
        "every product shown has its details: {all:?}"
    );
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

    // 102's likes wait outside the ranking (a member cannot fill it with products that do not
    // exist: services/hot-catalog-service/src/parked.rs); 300 + i's were scored, at once or
    // released when their products were announced.
    let db = system.db(&hot_catalog_service::SPEC).await;
    let parked = |product_no: i64| parked_rows(&db, "product_no", product_no);
    assert_eq!(parked(102).await, 20);
    assert_eq!(parked(310).await, 0);
    // An unlike takes its parked like away: that like was never scored.
    bus.publish(&Envelope::new(ProductUnliked(like(102, 0, now))))
        .await;
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
    assert_eq!(
        parked(102).await,
        21,
        "the unlike is parked beside its like"
    );
    // Once the catalog announces 102 it shows, first, with the score its likes gathered.
    announce(&bus, &[102]).await;
    // Released a row at a time: wait for all of them.
    let known = ranked_when(&system, &base, "102 announced", |p| {
        find(p, 102).is_some_and(|x| x["likeCount"] == 19)
    })
    .await;
    assert_eq!(numbers(&known).first(), Some(&102));
    assert_rel(score(&known, 102), 38.0, 1e-3);
    assert_eq!(find(&known, 102).expect("102")["name"], "상품 102");
    assert_eq!(find(&known, 102).expect("102")["likeCount"], 19);
    paymsa_e2e::eventually(WAIT, "102's rows forgotten", || async {
        (parked(102).await == 0).then_some(())
    })
    .await;
    db.close().await;
    system.stop().await;
}

#[tokio::test]
async fn scores_decay_with_event_age_and_halve_per_half_life_and_unlike_is_exact() {
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let bus = Bus::connect(&system).await;
    let t0 = now_ms();
    let clock = ManualClock::new(t0);
    let (clocked, base) = clocked_instance(&system, &clock).await;
    announce(&bus, &[1, 2, 3]).await;

    // The same kind of event, one half-life and two half-lives older.
    bus.publish(&Envelope::new(ProductLiked(like(1, 1, t0))))
        .await;
    bus.publish(&Envelope::new(ProductLiked(like(2, 1, t0 - DAY))))
        .await;
    bus.publish(&Envelope::new(payment(1, &[3], t0 - DAY * 2)))
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
    bus.publish(&Envelope::new(ProductLiked(liked.clone())))
        .await;
    let with_like = ranked_when(&system, &base, "the like counted", |p| {
        find(p, 3).is_some_and(|x| x["likeCount"] == 1)
    })
    .await;
    assert!(score(&with_like, 3) > before);
    bus.publish(&Envelope::new(ProductUnliked(liked))).await;
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
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let bus = Bus::connect(&system).await;
    let t0 = now_ms();
    let clock = ManualClock::new(t0);
    let (clocked, base) = clocked_instance(&system, &clock).await;
    announce(&bus, &[7, 8, 9]).await;

    let liked = Envelope::new(ProductLiked(like(7, 1, t0)));
    let reviewed = Envelope::new(ReviewCreated(review(1, 8, 3, t0)));
    let paid = Envelope::new(payment(1, &[9, 9], t0));
    bus.publish(&liked).await;
    bus.publish(&reviewed).await;
    bus.publish(&paid).await;
    let first = ranked_when(&system, &base, "three products ranked", |p| p.len() == 3).await;

    // Each event again under a new Nats-Msg-Id (a replay), twice over.
    for n in 1..=2 {
        bus.publish_as(&liked, &format!("replay-{n}-{}", liked.event_id))
            .await;
        bus.publish_as(&reviewed, &format!("replay-{n}-{}", reviewed.event_id))
            .await;
        bus.publish_as(&paid, &format!("replay-{n}-{}", paid.event_id))
            .await;
    }
    for (stream, consumer) in [
        (&events::topology::LIKES, "hot-catalog-likes"),
        (&events::topology::REVIEWS, "hot-catalog-reviews"),
        (&events::topology::ORDERS, "hot-catalog-orders"),
    ] {
        bus.wait_idle(stream, consumer, WAIT).await;
    }

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
        let text = metrics_text(&system.http, &url).await;
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

/// One member naming product after product the catalog never announced fills neither the
/// ranking nor the parking: past the cap its likes are dropped.
#[tokio::test]
async fn a_member_parks_at_most_a_hundred_likes_of_unannounced_products() {
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let bus = Bus::connect(&system).await;
    let now = now_ms();
    let cap = hot_catalog_service::parked::PARKED_PER_MEMBER;
    for product in 0..cap + 5 {
        bus.publish(&Envelope::new(ProductLiked(like(9_000 + product, 66, now))))
            .await;
    }
    bus.publish(&Envelope::new(ProductLiked(like(9_000, 67, now))))
        .await;
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
    let db = system.db(&hot_catalog_service::SPEC).await;
    let parked_of = |member: i64| parked_rows(&db, "member_no", member);
    // The count and the insert share the product's lock, not the member's: the consumer's
    // four likes handled at once may each see 99 (parked.rs PARKED_PER_MEMBER).
    let parked = parked_of(66).await;
    assert!((cap..cap + 4).contains(&parked), "{parked} parked");
    assert_eq!(
        parked_of(67).await,
        1,
        "another member's budget is their own"
    );
    db.close().await;
    system.stop().await;
}
