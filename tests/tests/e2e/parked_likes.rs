//! Likes of a product the catalog had not announced, purged after a day
//! (services/hot-catalog-service/src/purged.rs): when the product is announced after all, the
//! member's unlike of it is absorbed (their like was never scored), whether it comes after the
//! announcement or was parked before it and is released, once per event (two copies of one
//! unlike racing included); a like after it counts again.

use std::time::Duration;

use events::{Envelope, ProductCreated, ProductLiked, ProductUnliked};
use paymsa_e2e::{
    hot_ranking::{find, like, now_ms, product, ranked_when},
    streams::Bus,
    TestSystem,
};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_unlike_of_a_like_purged_before_its_product_was_announced_is_absorbed() {
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let bus = Bus::connect(&system).await;
    let base = system.url("hot-catalog-service");
    let now = now_ms();
    let product_no = 9_500;
    // Members 80 and 82 like a product nobody has announced: parked.
    for member in [80, 82] {
        bus.publish(&Envelope::new(ProductLiked(like(product_no, member, now))))
            .await;
    }
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
    let db = system.db(&hot_catalog_service::SPEC).await;
    purge_a_day_later(&db).await;
    let pending: Vec<(i64, i32)> =
        sqlx::query_as("select member_no, pending from purged_likes order by member_no")
            .fetch_all(&db)
            .await
            .expect("purged likes");
    assert_eq!(pending, [(80, 1), (82, 1)]);
    // Member 82 unlikes it before it is announced: the unlike is parked, and released with
    // the announcement.
    bus.publish(&Envelope::new(ProductUnliked(like(product_no, 82, now))))
        .await;
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;

    // Announced after all; member 81 likes it.
    announce_liked_once(&system, &bus, product_no, 81).await;

    // Member 80's unlike: their like was never scored, so it takes nothing.
    let unlike = Envelope::new(ProductUnliked(like(product_no, 80, now)));
    bus.publish(&unlike).await;
    // The same event again under another message id (a producer re-emitting it): absorbed by
    // its event id, not scored the second time.
    bus.publish_as(&unlike, &format!("{}-again", unlike.event_id))
        .await;
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
    let absorbed: i64 = sqlx::query_scalar("select count(*) from absorbed_unlikes")
        .fetch_one(&db)
        .await
        .expect("absorbed unlikes");
    assert_eq!(absorbed, 2, "82's released unlike and 80's, once");
    // Member 80 likes it again: that one counts.
    bus.publish(&Envelope::new(ProductLiked(like(product_no, 80, now))))
        .await;
    ranked_when(&system, &base, "two likes, none taken away", |p| {
        find(p, product_no).is_some_and(|x| x["likeCount"] == 2)
    })
    .await;
    db.close().await;
    system.stop().await;
}

/// The catalog announces the product after all, and `member` likes it: it shows, with one like.
async fn announce_liked_once(system: &TestSystem, bus: &Bus, product_no: i64, member: i64) {
    bus.publish(&Envelope::new(ProductCreated(product(
        product_no,
        "늦은 상품",
        1,
    ))))
    .await;
    bus.publish(&Envelope::new(ProductLiked(like(
        product_no,
        member,
        now_ms(),
    ))))
    .await;
    let base = system.url("hot-catalog-service");
    ranked_when(system, &base, "the announced product liked once", |p| {
        find(p, product_no).is_some_and(|x| x["likeCount"] == 1)
    })
    .await;
}

/// A day and more later, the parked rows' products still unannounced: purged (the sweep's own
/// statement).
async fn purge_a_day_later(db: &sqlx::PgPool) {
    sqlx::query("update parked_likes set parked_at = now() - interval '25 hours'")
        .execute(db)
        .await
        .expect("backdated");
    let mut conn = db.acquire().await.expect("a connection");
    hot_catalog_service::purged::purge(&mut conn)
        .await
        .expect("the purge");
}

/// Two copies of one unlike (a producer re-emitting it) handled at the same time, with one
/// purged like to absorb: one absorbs it and the other must find that out, not score the
/// unlike. The test holds the count's row lock until both copies wait for it, so they race.
#[tokio::test]
async fn two_copies_of_one_unlike_racing_are_absorbed_once_and_never_scored() {
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let bus = Bus::connect(&system).await;
    let base = system.url("hot-catalog-service");
    let now = now_ms();
    let product_no = 9_600;
    bus.publish(&Envelope::new(ProductLiked(like(product_no, 90, now))))
        .await;
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
    let db = system.db(&hot_catalog_service::SPEC).await;
    purge_a_day_later(&db).await;
    announce_liked_once(&system, &bus, product_no, 91).await;

    let mut held = db.begin().await.expect("a transaction");
    sqlx::query("select 1 from purged_likes where member_no = 90 for update")
        .execute(&mut *held)
        .await
        .expect("the count's row locked");
    let unlike = Envelope::new(ProductUnliked(like(product_no, 90, now)));
    bus.publish(&unlike).await;
    bus.publish_as(&unlike, &format!("{}-again", unlike.event_id))
        .await;
    // Both copies wait for the count's lock.
    paymsa_e2e::lock_waiters(&db, "purged_likes", 2).await;
    held.commit().await.expect("the lock released");
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
    let absorbed: i64 = sqlx::query_scalar("select count(*) from absorbed_unlikes")
        .fetch_one(&db)
        .await
        .expect("absorbed unlikes");
    assert_eq!(absorbed, 1);
    let ranked = ranked_when(&system, &base, "the product still ranked", |p| {
        find(p, product_no).is_some()
    })
    .await;
    assert_eq!(
        find(&ranked, product_no).expect("ranked")["likeCount"],
        1,
        "member 91's like stays: the unlike was never scored"
    );
    db.close().await;
    system.stop().await;
}

/// A member at the cap of parked likes unlikes a product whose like is parked: the unlike is
/// parked too (beside the like it cancels), so the announcement releases both and the
/// product keeps no like of theirs. Until stop 32 the unlike was dropped at the cap, and the
/// like it should have cancelled was released and scored.
#[tokio::test]
async fn an_unlike_at_the_cap_is_parked_with_the_like_it_cancels() {
    let system = TestSystem::start_only(&["hot-catalog-service"]).await;
    let bus = Bus::connect(&system).await;
    let (product_no, member) = (9_700, 90);
    handled(&bus, ProductLiked(like(product_no, member, now_ms()))).await;
    let db = system.db(&hot_catalog_service::SPEC).await;
    // The member's other parked likes fill the cap.
    sqlx::query(
        "insert into parked_likes (event_id, product_no, member_no, liked_at, liked)
         select gen_random_uuid(), 20000 + g, $1, now(), true from generate_series(1, $2) g",
    )
    .bind(member)
    .bind(hot_catalog_service::parked::PARKED_PER_MEMBER as i32)
    .execute(&db)
    .await
    .expect("a full cap");
    handled(&bus, ProductUnliked(like(product_no, member, now_ms()))).await;
    let parked: Vec<bool> = sqlx::query_scalar(
        "select liked from parked_likes where product_no = $1 and member_no = $2 order by liked",
    )
    .bind(product_no)
    .bind(member)
    .fetch_all(&db)
    .await
    .expect("parked rows");
    assert_eq!(parked, [false, true], "the unlike parked beside its like");
    // An unlike at the cap with no parked like to cancel (its like was dropped at the cap) is
    // dropped too: parked, it would take a like the ranking never had.
    handled(&bus, ProductUnliked(like(9_701, member, now_ms()))).await;
    let orphan: i64 =
        sqlx::query_scalar("select count(*) from parked_likes where product_no = 9701")
            .fetch_one(&db)
            .await
            .expect("parked rows");
    assert_eq!(
        orphan, 0,
        "an unlike of no parked like is dropped at the cap"
    );
    // Announced: the two cancel out, and member 81's like is the product's only one.
    announce_liked_once(&system, &bus, product_no, 81).await;
    db.close().await;
    system.stop().await;
}

/// Publishes a like event and waits until hot-catalog has handled it.
async fn handled<E: events::Event>(bus: &Bus, event: E) {
    bus.publish(&Envelope::new(event)).await;
    bus.wait_idle(&events::topology::LIKES, "hot-catalog-likes", WAIT)
        .await;
}
