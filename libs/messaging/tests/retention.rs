//! The retention pass deletes exactly what is past its age — old processed events and letters
//! resolved long ago — and keeps recent records and open letters, whatever their age
//! (libs/messaging/src/retention.rs).

mod common;

use std::time::Duration;

use common::Harness;
use messaging::retention::{purge_messaging, purge_older_than, RetentionSettings};

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn insert_processed(h: &Harness, consumer: &str, age_days: i32) {
    sqlx::query(
        "insert into processed_events (consumer, event_id, processed_at)
         values ($1, gen_random_uuid(), now() - make_interval(days => $2))",
    )
    .bind(consumer)
    .bind(age_days)
    .execute(&h.pool)
    .await
    .expect("processed event");
}

async fn insert_letter(h: &Harness, id: i64, age_days: i32, resolved_days_ago: Option<i32>) {
    sqlx::query(
        "insert into dead_letters (id, stream, stream_seq, consumer, subject, reason,
                                   deliveries, payload, first_seen_at, resolved_at)
         values ($1, 'S', $1, 'c', 's', 'TERMINATED', 1, '\\x00',
                 now() - make_interval(days => $2),
                 now() - make_interval(days => $3))",
    )
    .bind(id)
    .bind(age_days)
    .bind(resolved_days_ago)
    .execute(&h.pool)
    .await
    .expect("dead letter");
}

async fn ids(h: &Harness, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql)
        .fetch_all(&h.pool)
        .await
        .expect("query")
}

#[tokio::test]
async fn old_records_and_long_resolved_letters_go_recent_and_open_ones_stay() {
    let h = Harness::start().await;
    insert_processed(&h, "old", 46).await;
    insert_processed(&h, "recent", 44).await;
    insert_letter(&h, 1, 90, Some(31)).await; // resolved long ago: goes
    insert_letter(&h, 2, 90, Some(29)).await; // resolved recently: stays
    insert_letter(&h, 3, 400, None).await; // open, however old: stays
    let settings = RetentionSettings {
        processed_events: 45 * DAY,
        resolved_dead_letters: 30 * DAY,
        interval: DAY,
    };

    let (processed, letters) = purge_messaging(&h.pool, &settings).await.expect("pass");
    assert_eq!((processed, letters), (1, 1));
    assert_eq!(
        ids(&h, "select consumer from processed_events").await,
        vec!["recent"]
    );
    assert_eq!(
        ids(&h, "select id::text from dead_letters order by id").await,
        vec!["2", "3"]
    );
    // A second pass finds nothing more.
    assert_eq!(
        purge_messaging(&h.pool, &settings).await.expect("pass"),
        (0, 0)
    );
    h.cleanup().await;
}

#[tokio::test]
async fn purging_works_in_batches_past_the_batch_size() {
    let h = Harness::start().await;
    sqlx::query(
        "insert into processed_events (consumer, event_id, processed_at)
         select 'bulk', gen_random_uuid(), now() - interval '50 days' from generate_series(1, 2500)",
    )
    .execute(&h.pool)
    .await
    .expect("bulk insert");
    let deleted = purge_older_than(
        &h.pool,
        "processed_events",
        "consumer, event_id",
        "processed_at",
        45 * DAY,
    )
    .await
    .expect("purge");
    assert_eq!(deleted, 2500);
    h.cleanup().await;
}

/// The record of an event an open dead letter holds stays, however old: the consumer applied
/// it and still dead-lettered it (the ack of a committed delivery lost), and a replay must
/// find it applied, not apply it again. Until stop 31 it went after 45 days like any other.
#[tokio::test]
async fn the_record_of_an_event_an_open_letter_holds_stays() {
    let h = Harness::start().await;
    let event: uuid::Uuid = sqlx::query_scalar(
        "insert into processed_events (consumer, event_id, processed_at)
         values ('c', gen_random_uuid(), now() - interval '90 days') returning event_id",
    )
    .fetch_one(&h.pool)
    .await
    .expect("processed event");
    insert_letter(&h, 7, 90, None).await;
    sqlx::query("update dead_letters set event_id = $1 where id = 7")
        .bind(event)
        .execute(&h.pool)
        .await
        .expect("the letter holds the event");
    insert_processed(&h, "c", 90).await;
    let settings = RetentionSettings {
        processed_events: 45 * DAY,
        resolved_dead_letters: 30 * DAY,
        interval: DAY,
    };
    assert_eq!(
        purge_messaging(&h.pool, &settings).await.expect("pass"),
        (1, 0)
    );
    let kept: Vec<uuid::Uuid> = sqlx::query_scalar("select event_id from processed_events")
        .fetch_all(&h.pool)
        .await
        .expect("kept");
    assert_eq!(kept, vec![event]);
    // Resolved, the letter no longer keeps it.
    sqlx::query("update dead_letters set resolved_at = now() where id = 7")
        .execute(&h.pool)
        .await
        .expect("resolved");
    assert_eq!(
        purge_messaging(&h.pool, &settings).await.expect("pass"),
        (1, 0)
    );
    h.cleanup().await;
}
