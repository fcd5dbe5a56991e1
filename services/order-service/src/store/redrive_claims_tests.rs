//! The re-drive claims (`recovery::claim_unsettled`, `cancels::claim_unreversed`) on a scratch
//! database: an event still waiting in our outbox — first sent or re-driven — is left to the
//! relay, and each re-drive doubles the wait before the next.

use sqlx::PgPool;

use super::{cancels::claim_unreversed, recovery::claim_unsettled, scratch::ScratchDb};

const ORDER_EVENT: &str = "00000000-0000-4000-8000-000000000001";
const CANCEL_EVENT: &str = "00000000-0000-4000-8000-000000000002";
/// `REDRIVE_AFTER_MS` of these tests, in seconds.
const AFTER: f64 = 60.0;

async fn scratch() -> ScratchDb {
    let db = ScratchDb::new(2).await;
    let pool = &db.pool;
    // Order 1 paid and unsettled, its cancel 10 done and unreversed; both an hour old.
    sqlx::raw_sql(&format!(
        "insert into payment_events (payment_event_no, member_no, order_id, order_name,
                                     total_amount, payment_key, is_payment_done,
                                     approved_at, confirmed_event_id, updated_at)
         values (1, 1, 'order-1', 'o', 1000, 'pk-1', true, now() - interval '1 hour',
                 '{ORDER_EVENT}', now() - interval '1 hour');
         insert into payment_cancels (cancel_no, payment_event_no, order_id, request_hash,
                                      cancel_reason, cancel_amount, status, canceled_at,
                                      event_id, updated_at)
         values (10, 1, 'order-1', 'h', 'r', 500, 'DONE', now() - interval '1 hour',
                 '{CANCEL_EVENT}', now() - interval '1 hour');"
    ))
    .execute(pool)
    .await
    .expect("an unsettled order and an unreversed cancel");
    db
}

/// A re-drive's copy of `event`, still waiting in the outbox (the broker is down).
async fn pending_redrive(pool: &PgPool, id: i64, event: &str) {
    sqlx::query(
        "insert into outbox (id, idempotency_key, subject, event_type, payload, shard_key)
         values ($1, $2 || '-redrive-' || $1, 's', 't', '{}', 0)",
    )
    .bind(id)
    .bind(event)
    .execute(pool)
    .await
    .expect("a pending re-drive");
}

async fn claims(pool: &PgPool) -> (Vec<String>, Vec<i64>) {
    let mut conn = pool.acquire().await.expect("connection");
    let orders = claim_unsettled(&mut conn, AFTER, 10).await.expect("orders");
    let cancels = claim_unreversed(&mut conn, AFTER, 10)
        .await
        .expect("cancels");
    (orders, cancels)
}

/// Sets both rows' last change `secs` ago.
async fn last_change(pool: &PgPool, secs: f64) {
    sqlx::raw_sql(&format!(
        "update payment_events set updated_at = now() - make_interval(secs => {secs});
         update payment_cancels set updated_at = now() - make_interval(secs => {secs});"
    ))
    .execute(pool)
    .await
    .expect("backdated");
}

#[tokio::test]
async fn a_redrive_still_in_the_outbox_is_left_to_the_relay_and_the_wait_doubles() {
    let db = scratch().await;
    let pool = db.pool.clone();
    pending_redrive(&pool, 100, ORDER_EVENT).await;
    pending_redrive(&pool, 101, CANCEL_EVENT).await;
    assert_eq!(
        claims(&pool).await,
        (vec![], vec![]),
        "a re-drive waiting in the outbox is not piled on"
    );

    sqlx::query("update outbox set status = 'SUCCESS', published_at = now()")
        .execute(&pool)
        .await
        .expect("published");
    assert_eq!(claims(&pool).await, (vec!["order-1".into()], vec![10]));

    // One re-drive done: the next waits twice as long.
    last_change(&pool, AFTER * 1.5).await;
    assert_eq!(claims(&pool).await, (vec![], vec![]), "1.5× is not 2×");
    last_change(&pool, AFTER * 2.5).await;
    assert_eq!(claims(&pool).await, (vec!["order-1".into()], vec![10]));

    db.drop().await;
}
