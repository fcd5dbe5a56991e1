//! The consumer runner against a real NATS server: retry delays, termination, dead letters,
//! crash between commit and ack, draining on shutdown, long handlers.

mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{eventually, record_effect, seller_registered, spec, FnHandler, Harness, Log};
use messaging::{Applied, HandlerError};

/// docs/architecture.md §5: a handler that keeps failing is delivered 3 times, 1 s then 2 s apart (NAK
/// with the client-side delay), then dead-lettered exactly once as MAX_DELIVERIES.
#[tokio::test]
async fn a_failing_handler_is_retried_after_1s_and_2s_then_dead_lettered_once() {
    let h = Harness::start().await;
    let log = Log::default();
    h.spawn(
        spec("always-fails"),
        log.recording(|| async { Err(HandlerError::retry("downstream unavailable")) }),
    )
    .await;
    h.spawn_dead_letters(vec!["always-fails"]).await;

    let event = seller_registered(1);
    let seq = h.publish(&event).await;
    eventually(Duration::from_secs(15), "the dead letter", || async {
        !h.dead_letters().await.is_empty()
    })
    .await;
    // Nothing after the third delivery, and an advisory delivered again stores no second row.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let deliveries = log.entries();
    assert_eq!(deliveries.len(), 3, "delivered exactly max_deliver times");
    let counts: Vec<u64> = deliveries.iter().map(|(_, d)| d.delivered).collect();
    assert_eq!(counts, vec![1, 2, 3]);
    let gap1 = deliveries[1].0 - deliveries[0].0;
    let gap2 = deliveries[2].0 - deliveries[1].0;
    eprintln!("retry gaps: {gap1:?}, {gap2:?}");
    // Never before the backoff (the property), and not far after it: a loaded 2-core runner
    // delays a redelivery's pull, it cannot hasten it.
    let near = |gap: Duration, want_ms: u128| {
        (want_ms.saturating_sub(50)..want_ms + 1500).contains(&gap.as_millis())
    };
    assert!(near(gap1, 1000), "first retry after ≥1 s, was {gap1:?}");
    assert!(near(gap2, 2000), "second retry after ≥2 s, was {gap2:?}");
    let (_, first) = &deliveries[0];
    assert_eq!(first.event.event_id, event.event_id);
    assert_eq!(
        first.traceparent(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );

    let letters = h.dead_letters().await;
    assert_eq!(letters.len(), 1, "one dead letter");
    let letter = &letters[0];
    assert_eq!(letter.reason, "MAX_DELIVERIES");
    assert_eq!(letter.deliveries, 3);
    assert_eq!(letter.consumer, "always-fails");
    assert_eq!(
        letter.stream,
        h.topology.stream_name(&events::topology::SELLERS)
    );
    assert_eq!(letter.stream_seq, seq as i64);
    assert_eq!(letter.subject, h.subject("seller.registered"));
    assert_eq!(letter.event_id, Some(event.event_id));
    assert_eq!(letter.msg_id, Some(event.event_id.to_string()));
    assert_eq!(letter.payload, serde_json::to_vec(&event).expect("json"));
    assert!(letter.headers.0.contains_key("traceparent"));

    let metrics = h.metrics.render();
    for line in [
        r#"paymsa_consumer_messages_total{consumer="always-fails",outcome="retry",service="messaging-test"} 3"#,
        r#"paymsa_consumer_redeliveries_total{consumer="always-fails",service="messaging-test"} 2"#,
        r#"paymsa_dead_letters_total{consumer="always-fails",reason="MAX_DELIVERIES",service="messaging-test"} 1"#,
        r#"paymsa_dead_letters_stored{service="messaging-test"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    h.cleanup().await;
}

/// An undecodable message is terminated on its first delivery without reaching the handler,
/// dead-lettered as TERMINATED, and the consumer carries on with the next message.
#[tokio::test]
async fn an_undecodable_message_is_terminated_at_once_and_consumption_goes_on() {
    let h = Harness::start().await;
    let log = Log::default();
    h.spawn(spec("decodes"), log.recording(|| async { Ok(()) }))
        .await;
    h.spawn_dead_letters(vec!["decodes"]).await;

    let bad_seq = h.publish_raw(b"{not json").await;
    let good = seller_registered(2);
    h.publish(&good).await;

    eventually(
        Duration::from_secs(10),
        "dead letter and good event",
        || async { !h.dead_letters().await.is_empty() && log.len() == 1 },
    )
    .await;
    let letters = h.dead_letters().await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.reason, "TERMINATED");
    assert_eq!(letter.deliveries, 1);
    assert_eq!(letter.stream_seq, bad_seq as i64);
    assert_eq!(letter.event_id, None);
    assert_eq!(letter.payload, b"{not json");
    assert_eq!(log.entries()[0].1.event.event_id, good.event_id);
    assert!(h.metrics.render().contains(
        r#"paymsa_consumer_messages_total{consumer="decodes",outcome="term",service="messaging-test"} 1"#
    ));
    h.cleanup().await;
}

/// The process dies after the handler committed (apply_once) but before the ack: the server
/// redelivers after ack_wait, and the restarted consumer skips the event: applied once.
#[tokio::test]
async fn a_consumer_killed_between_commit_and_ack_applies_the_redelivery_once() {
    let h = Harness::start().await;
    let event = seller_registered(3);
    let durable = "killed-before-ack";
    let mut short = spec(durable);
    short.ack_wait = Duration::from_secs(2);

    // The doomed instance runs on its own runtime with its own connection, like a process.
    let committed = Arc::new(tokio::sync::Notify::new());
    let (kill, killed) = tokio::sync::oneshot::channel::<()>();
    let doomed = {
        let committed = committed.clone();
        let (topology, spec) = (h.topology.clone(), short.clone());
        let nats_url = h.config.nats_url.clone().expect("nats url");
        let db_url = h.config.database_url.clone().expect("db url");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                // Connections of its own: they die with it.
                let client = async_nats::connect(nats_url).await.expect("connect");
                let pool = sqlx::PgPool::connect(db_url.as_str()).await.expect("pool");
                let js = async_nats::jetstream::new(client);
                let handler = FnHandler(move |d: messaging::Delivery| {
                    let (pool, committed) = (pool.clone(), committed.clone());
                    async move {
                        let applied = record_effect(&pool, durable, d.event.event_id).await?;
                        assert_eq!(applied, Applied::Done(()));
                        committed.notify_one();
                        // Never returns: the ack is never sent.
                        std::future::pending::<Result<(), HandlerError>>().await
                    }
                });
                let shutdown = service_kit::Shutdown::new();
                let metrics = service_kit::Metrics::new("doomed");
                let replayers = messaging::Replayers::default();
                messaging::spawn_consumer(
                    js, &topology, spec, handler, &replayers, &metrics, &shutdown,
                )
                .await
                .expect("doomed consumer");
                let _ = killed.await;
            });
            // Drops every task mid-flight, the NATS connection included: a crash.
            rt.shutdown_background();
        })
    };
    h.publish(&event).await;
    tokio::time::timeout(Duration::from_secs(10), committed.notified())
        .await
        .expect("the doomed handler committed");
    let _ = kill.send(());
    doomed.join().expect("doomed thread");
    assert_eq!(h.effects(event.event_id).await, 1);

    let log = Log::default();
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, results, pool) = (log.clone(), outcomes.clone(), h.pool.clone());
    h.spawn(
        short,
        FnHandler(move |d: messaging::Delivery| {
            seen.push(d.clone());
            let (results, pool) = (results.clone(), pool.clone());
            async move {
                let applied = record_effect(&pool, durable, d.event.event_id).await?;
                results.lock().expect("lock").push(applied);
                Ok(())
            }
        }),
    )
    .await;
    eventually(Duration::from_secs(10), "the redelivery", || async {
        !outcomes.lock().expect("lock").is_empty()
    })
    .await;
    assert_eq!(log.entries()[0].1.delivered, 2, "it is a redelivery");
    assert_eq!(*outcomes.lock().expect("lock"), vec![Applied::Skipped]);
    assert_eq!(h.effects(event.event_id).await, 1, "applied once");
    assert_eq!(h.processed(durable, event.event_id).await, 1);

    // And this time it was acked: nothing pending, nothing delivered again.
    let stream =
        h.js.get_stream(h.topology.stream_name(&events::topology::SELLERS))
            .await
            .expect("stream");
    eventually(Duration::from_secs(5), "the ack", || async {
        let info = stream.consumer_info(durable).await.expect("consumer info");
        info.num_ack_pending == 0 && info.num_pending == 0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(log.len(), 1);
    h.cleanup().await;
}

/// Shutdown while a handler runs: the runner stops pulling, lets it finish and acks it.
#[tokio::test]
async fn shutdown_drains_in_flight_messages_and_acks_them() {
    let mut h = Harness::start().await;
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let (on_start, done, pool) = (started.clone(), finished.clone(), h.pool.clone());
    h.spawn(
        spec("drains"),
        FnHandler(move |d: messaging::Delivery| {
            let (on_start, done, pool) = (on_start.clone(), done.clone(), pool.clone());
            async move {
                on_start.notify_one();
                tokio::time::sleep(Duration::from_millis(700)).await;
                record_effect(&pool, "drains", d.event.event_id).await?;
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }),
    )
    .await;
    let event = seller_registered(4);
    h.publish(&event).await;
    tokio::time::timeout(Duration::from_secs(10), started.notified())
        .await
        .expect("handler started");
    h.stop().await; // triggers shutdown and waits for the workers
    assert_eq!(finished.load(Ordering::SeqCst), 1, "the handler finished");
    // The worker sent and flushed the ack before it stopped (runner/mod.rs); the server
    // applies it to the consumer's state a moment later, so the state is polled (under load a
    // direct read once saw it still pending). Without the ack it would stay pending for the
    // whole ack_wait.
    let stream =
        h.js.get_stream(h.topology.stream_name(&events::topology::SELLERS))
            .await
            .expect("stream");
    eventually(
        Duration::from_secs(2),
        "the ack sent before the stop",
        || async {
            let info = stream.consumer_info("drains").await.expect("consumer info");
            info.num_ack_pending == 0
        },
    )
    .await;
    let info = stream
        .consumer_info("drains")
        .await
        .expect("consumer info")
        .clone();
    assert_eq!(info.num_redelivered, 0);
    assert_eq!(h.effects(event.event_id).await, 1);
    h.cleanup().await;
}

/// A handler slower than ack_wait keeps its message (progress acks) instead of getting a
/// second, concurrent copy, the failure mode of a server-side backoff list.
#[tokio::test]
async fn a_handler_slower_than_ack_wait_gets_no_concurrent_copy() {
    let h = Harness::start().await;
    let log = Log::default();
    let mut slow = spec("slow");
    slow.ack_wait = Duration::from_secs(1);
    h.spawn(
        slow,
        log.recording(|| async {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            Ok(())
        }),
    )
    .await;
    h.publish(&seller_registered(5)).await;
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert_eq!(log.len(), 1, "delivered once despite running 3.5× ack_wait");
    h.cleanup().await;
}
