//! The recovery job's scans on a scratch database: they find every order whose outcome is not
//! known yet through its event's `next_recovery_at` (store/recovery_watch.rs), the backoff
//! and webhooks move it as before, and a line's status change stays a HOT update
//! (migrations/order-service/20261230000001_recovery_due_on_events.sql).

use sqlx::PgPool;

use super::{
    recovery::{count_unresolved, due_for_recovery, make_due_now, schedule_recovery, unresolved},
    recovery_watch::{clear_finished, watch_unwatched_attempts},
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

#[tokio::test]
async fn the_scan_finds_unknown_outcomes_when_due_and_attempts_once_stale() {
    let db = ScratchDb::new(2).await;
    let pool = &db.pool;
    let (past, future, stale) = (
        "now() - interval '1 second'",
        "now() + interval '1 minute'",
        "'infinity'",
    );
    order(pool, 1, "UNKNOWN", "5 minutes", 1, past).await;
    order(pool, 2, "UNKNOWN", "5 minutes", 1, future).await; // backing off
    order(pool, 3, "EXECUTING", "2 minutes", 0, stale).await; // its process died
    order(pool, 4, "EXECUTING", "1 second", 0, past).await; // live; a webhook made it due
    order(pool, 5, "SUCCESS", "5 minutes", 0, past).await; // left by a webhook's race
    order(pool, 6, "EXECUTING", "2 minutes", 0, "null").await; // left by an older instance
    order(pool, 7, "UNKNOWN", "20 minutes", 5, past).await;
    order(pool, 8, "EXECUTING", "11 minutes", 0, stale).await;
    order(pool, 9, "EXECUTING", "1 second", 0, stale).await; // live
    let mut conn = pool.acquire().await.expect("conn");
    let due = due_for_recovery(&mut conn, STALE, 100).await.expect("due");
    assert_eq!(
        due,
        ["order-7", "order-8", "order-1", "order-3"],
        "oldest first"
    );

    let listed: Vec<_> = unresolved(&mut conn, 100)
        .await
        .expect("unresolved")
        .into_iter()
        .map(|r| (r.order_id, r.next_recovery_at.is_some()))
        .collect();
    assert_eq!(
        listed,
        [("order-7".into(), true), ("order-8".into(), false)],
        "past the threshold, or ten minutes on; an attempt's infinity is no time"
    );
    assert_eq!(count_unresolved(&mut conn).await.expect("count"), 2);

    // The finished order's time is cleared, once; nothing else is.
    assert_eq!(clear_finished(&mut conn).await.expect("clear"), 1);
    assert_eq!(clear_finished(&mut conn).await.expect("clear"), 0);
    let watched: i64 = sqlx::query_scalar(
        "select count(*) from payment_events where next_recovery_at is not null",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("watched");
    assert_eq!(
        watched, 7,
        "all but the finished order and the older instance's"
    );

    // The job's look for unwatched attempts puts the older instance's in sight, once.
    assert_eq!(watch_unwatched_attempts(&mut conn).await.expect("watch"), 1);
    assert_eq!(watch_unwatched_attempts(&mut conn).await.expect("watch"), 0);
    let mut due = due_for_recovery(&mut conn, STALE, 100).await.expect("due");
    due.sort();
    assert_eq!(due, ["order-1", "order-3", "order-6", "order-7", "order-8"]);
    drop(conn);
    db.drop().await;
}

/// After an attempt's unknown outcome the job waits for the backoff; after one during which a
/// webhook said the payment changed, it looks at once.
#[tokio::test]
async fn an_unknown_outcome_backs_off_unless_a_webhook_came_during_the_attempt() {
    let db = ScratchDb::new(2).await;
    let pool = &db.pool;
    order(pool, 1, "EXECUTING", "1 minute", 0, "'infinity'").await;
    order(pool, 2, "EXECUTING", "1 minute", 0, "'infinity'").await;
    let mut conn = pool.acquire().await.expect("conn");
    let webhook = make_due_now(&mut conn, "order-2").await.expect("webhook");
    assert!(
        webhook.is_some(),
        "a webhook makes an attempt in flight due"
    );
    for no in [1, 2] {
        schedule_recovery(&mut conn, no, 60.0)
            .await
            .expect("scheduled");
    }
    let waits: Vec<f64> = sqlx::query_scalar(
        "select extract(epoch from next_recovery_at - now())::float8 from payment_events
          order by payment_event_no",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("times");
    assert!((59.0..=61.0).contains(&waits[0]), "the backoff: {waits:?}");
    assert!(waits[1] <= 0.0, "at once: {waits:?}");
    drop(conn);
    db.drop().await;
}

/// An attempt starts and ends: its lines change in place (HOT), because no index holds a
/// column a status change writes; and the attempt is due for recovery "when stale".
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
    start_attempt(&mut tx, 1, "pk-1", 7).await.expect("attempt");
    let when_stale: bool =
        sqlx::query_scalar("select next_recovery_at = 'infinity' from payment_events")
            .fetch_one(&mut *tx)
            .await
            .expect("next");
    assert!(when_stale, "an attempt is due for recovery once stale");
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
    tx.commit().await.expect("committed");
    db.drop().await;
}

/// The clean-up of finished orders' times, and an attempt that starts meanwhile: the clean-up
/// read the order as finished (its lines NOT_STARTED, a time a race left behind), then waited
/// for the event row the attempt holds. Once the attempt commits, its `infinity` must stay —
/// the attempt number changed — or the attempt would be out of the recovery job's sight.
#[tokio::test]
async fn the_clean_up_never_clears_the_time_of_an_attempt_started_meanwhile() {
    let db = ScratchDb::new(3).await;
    let pool = db.pool.clone();
    order(
        &pool,
        1,
        "NOT_STARTED",
        "1 minute",
        0,
        "now() - interval '1 second'",
    )
    .await;
    let mut attempt = pool.begin().await.expect("attempt");
    let t = Transition {
        next: PaymentStatus::Executing,
        count_failure: false,
        attempt_no: None,
        reason: "TEST",
        actor: "test",
    };
    transition(&mut attempt, &[100], 1, t)
        .await
        .expect("executing");
    start_attempt(&mut attempt, 1, "pk-1", 7)
        .await
        .expect("started");
    let cleaner = tokio::spawn({
        let pool = pool.clone();
        async move {
            let mut conn = pool.acquire().await.expect("conn");
            clear_finished(&mut conn).await
        }
    });
    // Until the clean-up waits for the attempt's row.
    db.until_blocked("the clean-up").await;
    attempt.commit().await.expect("committed");
    let cleared = cleaner.await.expect("joined").expect("cleared");
    assert_eq!(cleared, 0, "the order is open again");
    let when_stale: bool =
        sqlx::query_scalar("select next_recovery_at = 'infinity' from payment_events")
            .fetch_one(&pool)
            .await
            .expect("next");
    assert!(when_stale, "the attempt stays in the job's sight");
    db.drop().await;
}
