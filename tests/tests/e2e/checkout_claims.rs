//! An Idempotency-Key claimed IN_FLIGHT by an older version of order-service (a rolling
//! upgrade runs both; this version stores the key with its answer in the checkout's own
//! transaction, services/order-service/src/checkout/keys.rs) whose request died mid-way is not
//! locked forever: within the claim lease a retry is told 409 (still in flight), after it the
//! retry takes the claim over and checks out once. The chaos run found this: before the
//! lease, a SIGKILLed checkout left its key at 409 forever. And a keyed checkout holds one
//! pool connection at a time (the benchmark found that).

use order_service::checkout::{request_hash, MemberKey, CLAIM_LEASE_SECS};
use paymsa_e2e::{
    money::{checkout, checkout_body},
    seed::start_seeded,
};
use serde_json::json;

/// Leaves a claim as a killed request of an older version would: IN_FLIGHT, no order behind it.
async fn abandoned_claim(pool: &sqlx::PgPool, key: &str, products: &[i64], age_secs: f64) {
    sqlx::query(
        "insert into checkout_idempotency_keys (idempotency_key, request_hash, created_at, updated_at)
         values ($1, $2, now() - make_interval(secs => $3), now() - make_interval(secs => $3))",
    )
    .bind(key)
    // Older versions stored the FNV form (checkout/mod.rs `RequestHash::legacy`).
    .bind(request_hash(7, products).legacy)
    .bind(age_secs)
    .execute(pool)
    .await
    .expect("claim inserted");
}

#[tokio::test]
async fn a_claim_left_by_a_killed_request_expires_after_its_lease() {
    let system = start_seeded(&[]).await;
    let pool = system.db(&order_service::SPEC).await;

    abandoned_claim(&pool, "fresh-claim", &[1, 2], 1.0).await;
    let (status, body) = checkout(&system, &[1, 2], Some("fresh-claim")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("IDEMPOTENCY_KEY_IN_FLIGHT")),
        "{body}"
    );

    abandoned_claim(&pool, "stale-claim", &[1, 2], CLAIM_LEASE_SECS + 1.0).await;
    let (status, first) = checkout(&system, &[1, 2], Some("stale-claim")).await;
    assert_eq!(
        status, 201,
        "a retry after the lease takes the claim over: {first}"
    );
    let (status, again) = checkout(&system, &[1, 2], Some("stale-claim")).await;
    assert_eq!(
        (status, &again),
        (201, &first),
        "and its answer is replayed from then on"
    );

    // An older version's bare key of a different request: older versions kept one namespace
    // for all members, and its hash cannot say whose it is, so it is not this member's key.
    abandoned_claim(&pool, "stale-other", &[3], CLAIM_LEASE_SECS + 1.0).await;
    let (status, body) = checkout(&system, &[1, 2], Some("stale-other")).await;
    assert_eq!(status, 201, "{body}");

    // A key an older version completed (bare, the FNV hash) still replays its answer after
    // the upgrade.
    let (status, first) = checkout(&system, &[3], Some("completed-before")).await;
    assert_eq!(status, 201, "{first}");
    sqlx::query(
        "update checkout_idempotency_keys set idempotency_key = $2, request_hash = $3
          where idempotency_key = $1",
    )
    .bind(MemberKey::new(7, "completed-before").scoped)
    .bind("completed-before")
    .bind(request_hash(7, &[3]).legacy)
    .execute(&pool)
    .await
    .expect("stored as an older version would");
    let (status, again) = checkout(&system, &[3], Some("completed-before")).await;
    assert_eq!((status, &again), (201, &first), "replayed");
    // This version's own key of a different request of the member is refused.
    let (status, body) = checkout(&system, &[3], Some("mine")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = checkout(&system, &[1], Some("mine")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED")),
        "{body}"
    );

    let orders: i64 = sqlx::query_scalar("select count(*) from payment_events where member_no = 7")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(orders, 4, "one order per request in all");
    pool.close().await;
    system.stop().await;
}

/// A checkout with a key needs one connection at a time: the claim's connection is returned
/// before the order's transaction takes one. Holding both deadlocked a busy pool (each request
/// holding one and waiting for a second) — on a pool of one it deadlocks every time.
#[tokio::test]
async fn a_keyed_checkout_runs_on_a_pool_of_one_connection() {
    let system = start_seeded(&[("DB_MAX_CONNECTIONS", "1")]).await;
    for key in ["pool-1", "pool-2"] {
        let (status, body) = checkout(&system, &[1], Some(key)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = checkout(&system, &[999], Some("pool-3")).await;
    assert_eq!(
        status, 422,
        "a refused checkout releases its key on its own connection: {body}"
    );
    system.stop().await;
}

/// Two requests with one key at the same time: the second waits for the first's transaction
/// on the key and replays its answer, so both get the same order and only one exists (a
/// double click never makes two payments, and never a 409 the client must retry).
#[tokio::test]
async fn concurrent_checkouts_with_one_key_make_one_order() {
    let system = start_seeded(&[]).await;
    let pool = system.db(&order_service::SPEC).await;
    for round in 0..5 {
        let key = format!("double-click-{round}");
        let (a, b) = tokio::join!(
            checkout(&system, &[1, 2], Some(&key)),
            checkout(&system, &[1, 2], Some(&key)),
        );
        assert_eq!(a.0, 201, "{}", a.1);
        assert_eq!(b, a, "the same answer for both");
    }
    let orders: i64 = sqlx::query_scalar("select count(*) from payment_events where member_no = 7")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(orders, 5, "one order per key");
    pool.close().await;
    system.stop().await;
}

/// Keys are each member's own: two members whose clients number their keys alike each get
/// their order, and each key replays its member's. Until stop 24 the second member's
/// checkout was refused (422 IDEMPOTENCY_KEY_REUSED), which also told it the key was in use.
#[tokio::test]
async fn members_using_the_same_key_each_get_their_own_order() {
    let system = start_seeded(&[]).await;
    let of = |member: &str| json!({"memberNo": member, "productNos": ["1"]});
    let (status, seven) = checkout_body(&system, of("7"), Some("order-1")).await;
    assert_eq!(status, 201, "{seven}");
    let (status, eight) = checkout_body(&system, of("8"), Some("order-1")).await;
    assert_eq!(status, 201, "{eight}");
    assert_ne!(seven["orderId"], eight["orderId"], "two orders");
    let (_, again) = checkout_body(&system, of("8"), Some("order-1")).await;
    assert_eq!(again, eight, "each key replays its member's answer");
    let (_, again) = checkout_body(&system, of("7"), Some("order-1")).await;
    assert_eq!(again, seven);
    system.stop().await;
}
