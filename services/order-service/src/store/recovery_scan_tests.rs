//! The recovery job's scans on a scratch database: they find every order whose outcome is not
//! known yet through its event's `next_recovery_at`, and a line's status change stays a HOT
//! update (migrations/order-service/20261230000001_recovery_due_on_events.sql).

use sqlx::PgPool;

use super::{
    recovery::{count_unresolved, due_for_recovery, unresolved, watch_unwatched_attempts},
    scratch::ScratchDb,
    start_attempt, transition, Transition,
};
use crate::status::PaymentStatus;

/// `RECOVERY_STALE_MS` of these tests, in seconds.
const STALE: f64 = 60.0;

/// One order of one line, `status`, last changed `age` ago, with `failed_count` unknown
/// outcomes and the event's `next_recovery_at` (SQL).
async fn order(pool: &PgPool, no: i64, status: &str, age: &str, failed: i32, due: &str) {
    let mut tx = pool.begin().await.expect("tx");
    // the updated_at trigger would stamp now(): an old change is written as one
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("triggers off");
    sqlx::query(&format!(
        "insert into payment_events (payment_event_no, member_no, order_id, order_name,
                                     total_amount, payment_key, next_recovery_at)
         values ($1, 1, 'order-' || $1, 'o', 1000, 'pk-' || $1, {due})"
    ))
    .bind(no)
    .execute(&mut *tx)
    .await
    .expect("event");
    sqlx::query(&format!(
        "insert into payment_orders (payment_order_no, payment_event_no, order_id, product_no,
                                     seller_no, product_name, amount, status, failed_count,
                                     updated_at)
         values ($1 * 10, $1, 'order-' || $1, 1, 1, 'p', 1000, $2, $3, now() - interval '{age}')"
    ))
    .bind(no)
    .bind(status)
    .bind(failed)
    .execute(&mut *tx)
    .await
    .expect("order");
    tx.commit().await.expect("committed");
}

async fn due(pool: &PgPool) -> Vec<String> {
    let mut conn = pool.acquire().await.expect("conn");
    let mut due = due_for_recovery(&mut conn, STALE, 100).await.expect("due");
    due.sort();
    due
}

#[tokio::test]
async fn the_scan_finds_unknown_outcomes_when_due_and_attempts_once_stale() {
    let db = ScratchDb::new(2).await;
    let pool = &db.pool;
    let past = "now() - interval '1 second'";
    let future = "now() + interval '1 minute'";
    order(pool, 1, "UNKNOWN", "5 minutes", 1, past).await;
    order(pool, 2, "UNKNOWN", "5 minutes", 1, future).await; // backing off
    order(pool, 3, "EXECUTING", "2 minutes", 0, past).await; // its process died
    order(pool, 4, "EXECUTING", "1 second", 0, past).await; // live; a webhook made it due
    order(pool, 5, "SUCCESS", "5 minutes", 0, "null").await;
    order(pool, 6, "EXECUTING", "2 minutes", 0, "null").await; // left by an older instance
    order(
        pool,
        7,
        "UNKNOWN",
        "20 minutes",
        5,
        "now() - interval '15 minutes'",
    )
    .await;
    order(
        pool,
        8,
        "EXECUTING",
        "11 minutes",
        0,
        "now() - interval '10 minutes'",
    )
    .await;
    assert_eq!(
        due(pool).await,
        ["order-1", "order-3", "order-7", "order-8"]
    );

    let mut conn = pool.acquire().await.expect("conn");
    let listed: Vec<_> = unresolved(&mut conn, 100)
        .await
        .expect("unresolved")
        .into_iter()
        .map(|r| r.order_id)
        .collect();
    assert_eq!(
        listed,
        ["order-7", "order-8"],
        "past the threshold, or ten minutes on"
    );
    assert_eq!(count_unresolved(&mut conn).await.expect("count"), 2);

    // The job's first pass in a process puts the older instance's attempt in sight, once.
    assert_eq!(watch_unwatched_attempts(&mut conn).await.expect("watch"), 1);
    assert_eq!(watch_unwatched_attempts(&mut conn).await.expect("watch"), 0);
    drop(conn);
    assert_eq!(
        due(pool).await,
        ["order-1", "order-3", "order-6", "order-7", "order-8"]
    );
    db.drop().await;
}

/// An attempt starts and ends: its lines change in place (HOT), because no index holds a
/// column a status change writes; and the attempt is due for recovery once stale, not before.
#[tokio::test]
async fn a_line_status_change_is_a_hot_update() {
    let db = ScratchDb::new(2).await;
    let pool = &db.pool;
    order(pool, 1, "NOT_STARTED", "1 second", 0, "null").await;
    let mut tx = pool.begin().await.expect("tx");
    let ids = [100, 101];
    let step = |next, attempt_no| Transition {
        next,
        count_failure: false,
        attempt_no,
        reason: "TEST",
        actor: "test",
    };
    let t = step(PaymentStatus::Executing, None);
    assert_eq!(transition(&mut tx, &ids[..1], 1, t).await.expect("t"), 1);
    start_attempt(&mut tx, 1, "pk-1", 7, STALE)
        .await
        .expect("attempt");
    let t = step(PaymentStatus::Success, Some(7));
    assert_eq!(transition(&mut tx, &ids[1..], 1, t).await.expect("t"), 1);
    // This transaction's own counts: no wait for the statistics collector.
    let (updates, hot): (i64, i64) = sqlx::query_as(
        "select n_tup_upd, n_tup_hot_upd from pg_stat_xact_user_tables
          where relname = 'payment_orders'",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("stats");
    assert_eq!((updates, hot), (2, 2), "both changes of the line are HOT");
    let next: bool = sqlx::query_scalar(
        "select next_recovery_at > now() + interval '59 seconds' from payment_events",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("next");
    assert!(next, "an attempt is due for recovery only once stale");
    tx.commit().await.expect("committed");
    db.drop().await;
}
