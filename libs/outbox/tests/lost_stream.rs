//! A broker that loses published messages (a store restored from an older copy, a stream
//! recreated): the next fresh publish gets a sequence a published row already holds, and the
//! relay publishes every row from that sequence on again (libs/outbox/src/store.rs
//! `requeue_lost`), so each event is in the stream once more, exactly once — also when the
//! rows that held those sequences were purged already.

mod common;

use std::time::Duration;

use common::{assert_exactly_once, fast_config, metric, wait_until, TestEnv};
use outbox::purge_published;

#[tokio::test]
async fn events_the_stream_lost_are_published_again() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    let mut keys = env.append_events(1..=10).await;
    nudge.nudge();
    env.expect_published(10, Duration::from_secs(10)).await;
    assert_eq!(env.stream_message_count().await, 10);

    // The broker forgets: the stream comes back empty, its sequences start again at 1.
    env.js
        .delete_stream(env.stream_name())
        .await
        .expect("stream deleted");
    env.provision_stream().await;
    assert_eq!(env.stream_message_count().await, 0);

    // The next event is stored with sequence 1, which a published row already holds.
    keys.extend(env.append_events(11..=11).await);
    nudge.nudge();
    let restored = wait_until(Duration::from_secs(10), || async {
        env.stream_message_count().await == 11 && env.count_with_status("SUCCESS").await == 11
    })
    .await;
    assert!(
        restored.is_some(),
        "the lost events were not published again: {} in the stream, {:?}",
        env.stream_message_count().await,
        env.statuses().await
    );
    assert_exactly_once(&env.stream_messages().await, &keys);
    assert_eq!(metric(&metrics, "outbox_lost_republished_total"), 10.0);

    shutdown.trigger();
    env.cleanup().await;
}

#[tokio::test]
async fn duplicates_and_ordinary_publishing_requeue_nothing() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    let mut keys = env.append_events(1..=20).await;
    nudge.nudge();
    env.expect_published(20, Duration::from_secs(10)).await;
    keys.extend(env.append_events(21..=30).await);
    nudge.nudge();
    env.expect_published(30, Duration::from_secs(10)).await;
    // A re-publish of published rows is a duplicate JetStream drops: nothing is lost there.
    sqlx::query("update outbox set status = 'INIT', next_attempt_at = now() where id in (select id from outbox order by id limit 5)")
        .execute(&env.pool)
        .await
        .expect("reset");
    nudge.nudge();
    env.expect_published(30, Duration::from_secs(10)).await;
    assert_eq!(env.stream_message_count().await, 30);
    assert_exactly_once(&env.stream_messages().await, &keys);
    assert_eq!(metric(&metrics, "outbox_lost_republished_total"), 0.0);
    shutdown.trigger();
    env.cleanup().await;
}

/// The stream goes back further than the outbox keeps published rows: the rows that held the
/// sequences it hands out again are purged. The purger's mark (`outbox_purged_seq`) still says
/// those sequences were used, and the rows the outbox holds are published again. Until stop 31
/// nothing noticed: the new sequences never reached a held row's.
#[tokio::test]
async fn a_stream_restored_from_before_the_purged_rows_is_noticed() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    env.append_events(1..=10).await;
    nudge.nudge();
    env.expect_published(10, Duration::from_secs(10)).await;
    // The five first published were published long ago, and purged.
    sqlx::query(
        "update outbox set published_at = now() - interval '2 hours' where stream_seq <= 5",
    )
    .execute(&env.pool)
    .await
    .expect("aged");
    let purged = purge_published(&env.pool, Duration::from_secs(3600), 100)
        .await
        .expect("purge");
    assert_eq!(purged, 5);
    let mut keys: Vec<String> = sqlx::query_scalar("select idempotency_key from outbox")
        .fetch_all(&env.pool)
        .await
        .expect("held rows");

    // The broker forgets everything: its sequences start again at 1, below the purged ones.
    env.js
        .delete_stream(env.stream_name())
        .await
        .expect("stream deleted");
    env.provision_stream().await;
    keys.extend(env.append_events(11..=11).await);
    nudge.nudge();
    let restored = wait_until(Duration::from_secs(10), || async {
        env.stream_message_count().await == 6 && env.count_with_status("SUCCESS").await == 6
    })
    .await;
    assert!(
        restored.is_some(),
        "the held rows were not published again: {} in the stream, {:?}",
        env.stream_message_count().await,
        env.statuses().await
    );
    assert_exactly_once(&env.stream_messages().await, &keys);
    assert_eq!(metric(&metrics, "outbox_lost_republished_total"), 5.0);
    // The stream's new sequences are not taken for lost again.
    keys.extend(env.append_events(12..=13).await);
    nudge.nudge();
    env.expect_published(8, Duration::from_secs(10)).await;
    assert_exactly_once(&env.stream_messages().await, &keys);
    assert_eq!(metric(&metrics, "outbox_lost_republished_total"), 5.0);

    shutdown.trigger();
    env.cleanup().await;
}
