//! Several relay instances on one outbox: shards split through the Redis heartbeat group,
//! every event is published once, and a departed or silent instance's shards are taken over.

mod common;

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{
    aggregates_per_shard, assert_exactly_once, fast_config, metric, metric_reaches, wait_until,
    TestEnv, SERVICE, SHARDS,
};
use outbox::{shard_key, ShardCoordinator};

#[tokio::test]
async fn two_relays_split_the_shards_and_the_survivor_takes_all_of_them() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let (nudge_a, metrics_a, shutdown_a) = env.spawn_relay(fast_config());
    let (nudge_b, metrics_b, shutdown_b) = env.spawn_relay(fast_config());
    let split = wait_until(Duration::from_secs(5), || async {
        metric(&metrics_a, "outbox_owned_shards") == 2.0
            && metric(&metrics_b, "outbox_owned_shards") == 2.0
    })
    .await;
    assert!(split.is_some(), "the 4 shards were not split 2 + 2");

    // Each instance's handlers nudge their own relay; events land in all shards.
    let aggregates = aggregates_per_shard(25, 0);
    let (first_half, second_half) = aggregates.split_at(aggregates.len() / 2);
    let mut keys = env.append_events(first_half.iter().copied()).await;
    nudge_a.nudge();
    keys.extend(env.append_events(second_half.iter().copied()).await);
    nudge_b.nudge();
    env.expect_published(100, Duration::from_secs(5)).await;
    let (by_a, by_b) = (
        metric(&metrics_a, "outbox_published_total"),
        metric(&metrics_b, "outbox_published_total"),
    );
    // Every shard has 25 rows and each relay owns 2 shards, so each published exactly 50.
    assert_eq!((by_a, by_b), (50.0, 50.0));
    assert_exactly_once(&env.stream_messages().await, &keys);

    // B stops (graceful: it leaves the group); A takes all shards and publishes the rest,
    // including rows in B's former shards that nobody nudged.
    shutdown_b.trigger();
    let rest = env.append_events(aggregates_per_shard(10, 10_000)).await;
    keys.extend(rest);
    assert!(
        metric_reaches(
            &metrics_a,
            "outbox_owned_shards",
            4.0,
            Duration::from_secs(10)
        )
        .await,
        "A never owned all 4 shards"
    );
    env.expect_published(140, Duration::from_secs(10)).await;
    assert_exactly_once(&env.stream_messages().await, &keys);

    shutdown_a.trigger();
    env.cleanup().await;
}

#[tokio::test]
async fn a_silent_instance_is_evicted_and_its_shards_published_by_the_other() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    // A hung instance: it heartbeats (so it owns shards) but never publishes.
    let config = fast_config();
    let hung = ShardCoordinator::new(
        env.redis.clone(),
        ShardCoordinator::key(SERVICE, &env.db_name),
        SHARDS,
        config.heartbeat,
        config.eviction,
    );
    let alive = Arc::new(AtomicBool::new(true));
    let heartbeats = {
        let (hung, alive) = (hung.clone(), alive.clone());
        tokio::spawn(async move {
            while alive.load(Ordering::SeqCst) {
                hung.heartbeat().await.expect("heartbeat");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    hung.heartbeat().await.expect("first heartbeat");
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());
    let split = wait_until(Duration::from_secs(5), || async {
        metric(&metrics, "outbox_owned_shards") == 2.0 && hung.owned_shards().await.len() == 2
    })
    .await;
    assert!(
        split.is_some(),
        "the relay did not share with the hung instance"
    );
    let hung_shards: HashSet<i16> = hung.owned_shards().await.into_iter().collect();

    let aggregates = aggregates_per_shard(5, 0);
    let keys = env.append_events(aggregates.iter().copied()).await;
    nudge.nudge();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Only the relay's own shards went out; the hung instance's rows wait.
    let hung_rows = aggregates
        .iter()
        .filter(|a| hung_shards.contains(&shard_key(**a, SHARDS)))
        .count() as i64;
    assert_eq!(hung_rows, 10);
    assert_eq!(env.count_with_status("SUCCESS").await, 20 - hung_rows);
    assert_eq!(env.count_with_status("INIT").await, hung_rows);

    // The hung instance falls silent: evicted after 900 ms, its shards are taken over.
    alive.store(false, Ordering::SeqCst);
    heartbeats.await.expect("heartbeat task");
    let took_over = env
        .wait_for_status("SUCCESS", 20, Duration::from_secs(10))
        .await
        .expect("the silent instance's rows were never published");
    assert!(
        took_over < Duration::from_secs(5),
        "takeover took {took_over:?}"
    );
    assert_eq!(metric(&metrics, "outbox_owned_shards"), 4.0);
    assert_exactly_once(&env.stream_messages().await, &keys);

    shutdown.trigger();
    env.cleanup().await;
}
