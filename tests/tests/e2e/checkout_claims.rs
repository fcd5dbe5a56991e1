//! An Idempotency-Key whose request died mid-way (the process was killed between claiming the
//! key and committing the order) is not locked forever: within the claim lease a retry is
//! told 409 (still in flight), after it the retry takes the claim over and checks out once.
//! The chaos run found this: before the lease, a SIGKILLed checkout left its key at 409 forever.
//! And a keyed checkout holds one pool connection at a time (the benchmark found that).

use order_service::checkout::{request_hash, CLAIM_LEASE_SECS};
use paymsa_e2e::{money::checkout, seed::start_seeded};

/// Leaves a claim as a killed request would: IN_FLIGHT, with no order behind it.
async fn abandoned_claim(pool: &sqlx::PgPool, key: &str, products: &[i64], age_secs: f64) {
    sqlx::query(
        "insert into checkout_idempotency_keys (idempotency_key, request_hash, created_at, updated_at)
         values ($1, $2, now() - make_interval(secs => $3), now() - make_interval(secs => $3))",
    )
    .bind(key)
    .bind(request_hash(7, products))
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

    // A stale claim of a different request is still that request's key.
    abandoned_claim(&pool, "stale-other", &[3], CLAIM_LEASE_SECS + 1.0).await;
    let (status, body) = checkout(&system, &[1, 2], Some("stale-other")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED")),
        "{body}"
    );

    let orders: i64 = sqlx::query_scalar("select count(*) from payment_events where member_no = 7")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(orders, 1, "one order in all");
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
