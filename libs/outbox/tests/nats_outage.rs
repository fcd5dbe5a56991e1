//! A NATS outage on a private server (first hung, then dead): events appended meanwhile are
//! kept, never marked SUCCESS, and published exactly once when the broker is back.

mod common;

use std::time::Duration;

use async_nats::connection::State;
use common::{assert_exactly_once, fast_config, metric_reaches, wait_until, TestEnv};
use service_kit::nats_server::NatsServer;

#[tokio::test]
async fn events_appended_while_nats_is_down_are_published_once_it_is_back() {
    let mut server = NatsServer::start().await.expect("private nats-server");
    let env = TestEnv::with_nats(&server.url()).await;
    env.provision_stream().await;
    let (nudge, metrics, shutdown) = env.spawn_relay(fast_config());

    let mut keys = env.append_events(1..=5).await;
    nudge.nudge();
    let before = env
        .wait_for_status("SUCCESS", 5, Duration::from_secs(5))
        .await;
    assert!(before.is_some(), "not published while NATS was up");

    // A hung broker: the connection stays up, nothing is acknowledged. The relay publishes,
    // gets no acks within publish_timeout (1 s), and must record FAILURE, never SUCCESS.
    // (After an all-failed batch a pass ends, so not every row is attempted meanwhile.)
    server.freeze().await.expect("SIGSTOP");
    let unacked = env.append_events(50..60).await;
    nudge.nudge();
    let failed = wait_until(Duration::from_secs(5), || async {
        let (failures, success): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where status = 'FAILURE' and attempts >= 1), \
                    count(*) filter (where status = 'SUCCESS') \
             from outbox where idempotency_key = any($1)",
        )
        .bind(&unacked)
        .fetch_one(&env.pool)
        .await
        .expect("query");
        assert_eq!(success, 0, "rows marked SUCCESS without an ack");
        failures >= 4
    })
    .await;
    assert!(
        failed.is_some(),
        "unacked publishes not recorded: {:?}",
        env.statuses().await
    );
    keys.extend(unacked);

    // A dead broker: the client is disconnected; rows wait untouched.
    server.stop().await;
    let noticed = wait_until(Duration::from_secs(5), || async {
        env.nats.connection_state() != State::Connected
    })
    .await;
    assert!(
        noticed.is_some(),
        "the client never noticed the dead server"
    );

    let during = env.append_events(100..120).await;
    nudge.nudge();
    // Several sweeps and nudges pass with the broker down.
    tokio::time::sleep(Duration::from_secs(2)).await;
    nudge.nudge();
    let (unpublished, success): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where status in ('INIT', 'FAILURE') and published_at is null), \
                count(*) filter (where status = 'SUCCESS') \
         from outbox where idempotency_key = any($1)",
    )
    .bind(&during)
    .fetch_one(&env.pool)
    .await
    .expect("query");
    assert_eq!(
        (unpublished, success),
        (20, 0),
        "rows marked SUCCESS without an ack"
    );
    assert_eq!(env.count_with_status("SUCCESS").await, 5);
    assert!(
        metric_reaches(&metrics, "outbox_backlog", 30.0, Duration::from_secs(2)).await,
        "the backlog gauge missed the pending rows"
    );

    server.start_again().await.expect("nats-server restarts");
    env.expect_published(35, Duration::from_secs(30)).await;
    keys.extend(during);
    assert_exactly_once(&env.stream_messages().await, &keys);
    assert_eq!(env.stream_message_count().await, 35);

    shutdown.trigger();
    env.cleanup().await;
}
