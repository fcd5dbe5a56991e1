//! The publish path against the real Postgres, NATS and Redis: nudge → publish → ack →
//! SUCCESS, and every way a publish can go unacknowledged or be repeated.

mod common;

use std::time::Duration;

use common::{assert_exactly_once, fast_config, metric, metric_reaches, wait_until, TestEnv};
use events::{Envelope, SellerRegistered};
use service_kit::Metrics;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn relay_owns_all_shards(metrics: &Metrics) {
    assert!(
        metric_reaches(metrics, "outbox_owned_shards", 4.0, Duration::from_secs(5)).await,
        "the single relay never took the 4 shards"
    );
}

#[tokio::test]
async fn a_committed_event_is_published_on_nudge_with_its_idempotency_key() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let mut config = fast_config();
    // No sweep during the test: only the nudge can publish.
    config.sweep_interval = Duration::from_secs(3600);
    config.sweep_after = Duration::from_secs(3600);
    let (nudge, metrics, shutdown) = env.spawn_relay(config);
    relay_owns_all_shards(&metrics).await;
    // Taking the shards starts a publish pass of its own; let it finish on the empty table.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let envelope = Envelope::new(SellerRegistered {
        seller_no: 9_007_199_254_740_993,
        seller_id: "A".into(),
    });
    let mut tx = env.pool.begin().await.expect("begin");
    let row_id = env
        .writer
        .append(&mut tx, 42, &envelope, &[("traceparent", TRACEPARENT)])
        .await
        .expect("append");
    tx.commit().await.expect("commit");

    // Committed but not nudged: nothing leaves (the sweep is an hour away).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.stream_message_count().await, 0);
    assert_eq!(env.count_with_status("INIT").await, 1);

    nudge.nudge();
    let took = env
        .wait_for_status("SUCCESS", 1, Duration::from_secs(3))
        .await
        .expect("published after the nudge");
    assert!(
        took < Duration::from_secs(1),
        "nudge to SUCCESS took {took:?}"
    );

    let messages = env.stream_messages().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.message_id, envelope.event_id.to_string());
    assert_eq!(message.traceparent, TRACEPARENT);
    assert_eq!(message.subject, env.topology.subject("seller.registered"));
    let published: Envelope<SellerRegistered> =
        events::decode(&message.payload).expect("the payload is the envelope");
    assert_eq!(published, envelope);

    let (key, attempts, published_at_set): (String, i32, bool) = sqlx::query_as(
        "select idempotency_key, attempts, published_at is not null from outbox where id = $1",
    )
    .bind(row_id)
    .fetch_one(&env.pool)
    .await
    .expect("row");
    assert_eq!(key, envelope.event_id.to_string());
    assert_eq!((attempts, published_at_set), (0, true));
    assert_eq!(metric(&metrics, "outbox_published_total"), 1.0);

    shutdown.trigger();
    env.cleanup().await;
}

#[tokio::test]
async fn a_publish_without_an_ack_is_never_marked_success_and_is_retried() {
    let env = TestEnv::new().await;
    // No stream yet: JetStream answers "no responders", there is no ack.
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    relay_owns_all_shards(&metrics).await;
    let keys = env.append_events([1, 2, 3]).await;
    nudge.nudge();

    let retried = wait_until(Duration::from_secs(5), || async {
        let (failed, min_attempts): (i64, Option<i32>) =
            sqlx::query_as("select count(*), min(attempts) from outbox where status = 'FAILURE'")
                .fetch_one(&env.pool)
                .await
                .expect("query");
        failed == 3 && min_attempts.unwrap_or(0) >= 2
    })
    .await;
    assert!(
        retried.is_some(),
        "rows were not failed and retried: {:?}",
        env.statuses().await
    );
    let (unpublished, errors): (i64, Vec<String>) = sqlx::query_as(
        "select count(*) filter (where published_at is null), \
                array_agg(distinct coalesce(last_error, '')) from outbox",
    )
    .fetch_one(&env.pool)
    .await
    .expect("query");
    assert_eq!(unpublished, 3);
    assert!(errors.iter().all(|e| e.contains("no stream")), "{errors:?}");
    assert_eq!(env.count_with_status("SUCCESS").await, 0);
    assert_eq!(metric(&metrics, "outbox_published_total"), 0.0);
    assert!(metric(&metrics, "outbox_publish_failures_total") >= 6.0);
    assert!(
        metric_reaches(&metrics, "outbox_backlog", 3.0, Duration::from_secs(2)).await,
        "backlog gauge never showed the 3 rows"
    );

    // Once the stream exists, the retries (backoff ≤ 400 ms) get through.
    env.provision_stream().await;
    env.expect_published(3, Duration::from_secs(5)).await;
    assert_exactly_once(&env.stream_messages().await, &keys);

    shutdown.trigger();
    env.cleanup().await;
}

#[tokio::test]
async fn a_republish_after_an_unrecorded_ack_is_dropped_by_jetstream() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    relay_owns_all_shards(&metrics).await;
    let keys = env.append_events(1..=5).await;
    nudge.nudge();
    env.expect_published(5, Duration::from_secs(3)).await;
    assert_eq!(env.stream_message_count().await, 5);

    // The relay "crashed" after the acks and before its SUCCESS update committed.
    sqlx::query("update outbox set status = 'INIT', published_at = null, next_attempt_at = now()")
        .execute(&env.pool)
        .await
        .expect("reset");
    nudge.nudge();
    env.expect_published(5, Duration::from_secs(3)).await;
    assert_eq!(metric(&metrics, "outbox_publish_duplicates_total"), 5.0);
    assert_eq!(metric(&metrics, "outbox_published_total"), 10.0);
    assert_exactly_once(&env.stream_messages().await, &keys);

    shutdown.trigger();
    env.cleanup().await;
}

#[tokio::test]
async fn rows_held_by_a_relay_that_died_mid_batch_are_republished_once() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let keys = env.append_events(1..=4).await;
    // Another relay claimed the rows (its transaction holds their locks), published them,
    // and dies before recording the outcome.
    let mut dying = env.pool.begin().await.expect("begin");
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select subject, idempotency_key, payload::text from outbox order by id for update",
    )
    .fetch_all(&mut *dying)
    .await
    .expect("claim");
    for (subject, key, payload) in rows {
        let message = async_nats::jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .message_id(key);
        env.js
            .send_publish(subject, message)
            .await
            .expect("publish")
            .await
            .expect("ack");
    }

    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    relay_owns_all_shards(&metrics).await;
    nudge.nudge();
    // Locked: while their claimer lives, nobody else publishes them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.count_with_status("INIT").await, 4);
    assert_eq!(metric(&metrics, "outbox_published_total"), 0.0);

    // The claimer dies: its transaction ends unrecorded, the locks go; the sweep (no nudge)
    // takes the rows over.
    drop(dying);
    env.expect_published(4, Duration::from_secs(5)).await;
    assert_eq!(metric(&metrics, "outbox_publish_duplicates_total"), 4.0);
    assert_exactly_once(&env.stream_messages().await, &keys);

    shutdown.trigger();
    env.cleanup().await;
}
