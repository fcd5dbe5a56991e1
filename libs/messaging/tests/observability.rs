//! What a consumer shows an operator: the producer's trace continues in the handler (its logs
//! and the events it writes carry the same trace id), and the pending gauges follow the
//! consumer's lag.

mod common;

use std::{sync::Arc, time::Duration};

use async_nats::HeaderMap;
use common::{eventually, seller_registered, spec, FnHandler, Harness, Log};
use service_kit::{log_capture::LogCapture, trace, TraceContext};
use tokio::sync::Semaphore;

/// The traceparent `Harness::publish` sends.
const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_handler_continues_the_producers_trace() {
    let logs = LogCapture::install();
    let h = Harness::start().await;
    let log = Log::default();
    let seen = log.clone();
    let contexts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = contexts.clone();
    h.spawn(
        spec("traced"),
        FnHandler(move |d| {
            seen.push(d);
            recorded.lock().expect("lock").push(trace::current());
            tracing::info!("handler at work");
            async { Ok(()) }
        }),
    )
    .await;

    // One message with the producer's traceparent, one without any.
    let traced = seller_registered(1);
    h.publish(&traced).await;
    let untraced = seller_registered(2);
    let body = serde_json::to_vec(&untraced).expect("json");
    h.js.publish_with_headers(
        h.subject("seller.registered"),
        HeaderMap::new(),
        body.into(),
    )
    .await
    .expect("sent")
    .await
    .expect("acked");
    eventually(Duration::from_secs(10), "both deliveries", || async {
        log.len() == 2
    })
    .await;

    let parent = TraceContext::parse(PARENT).expect("valid");
    let contexts: Vec<TraceContext> = contexts
        .lock()
        .expect("lock")
        .iter()
        .map(|c| c.expect("every delivery runs in a trace context"))
        .collect();
    let continued = contexts
        .iter()
        .find(|c| c.trace_id() == parent.trace_id())
        .expect("the producer's trace continues");
    assert_ne!(continued.span_id(), parent.span_id(), "a child span");
    let started = contexts
        .iter()
        .find(|c| c.trace_id() != parent.trace_id())
        .expect("a message without traceparent starts a trace");
    TraceContext::parse(&started.traceparent()).expect("valid");

    // The handler's own log line carries the trace id and the consumer's identity.
    let lines = logs.with_field("trace_id", &parent.trace_id());
    let line = lines
        .iter()
        .find(|e| e.message == "handler at work")
        .unwrap_or_else(|| panic!("no handler log with the trace id: {lines:#?}"));
    assert!(line.in_span("consume"));
    assert_eq!(line.field("service"), Some(common::SERVICE));
    assert_eq!(line.field("consumer"), Some("traced"));
    assert_eq!(line.field("span_id"), Some(continued.span_id().as_str()));
    h.cleanup().await;
}

fn gauge(h: &Harness, name: &str, consumer: &str) -> Option<i64> {
    let prefix = format!(
        "paymsa_{name}{{consumer=\"{consumer}\",service=\"{}\"}} ",
        common::SERVICE
    );
    h.metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str())?.trim().parse().ok())
}

#[tokio::test]
async fn the_pending_gauges_follow_the_consumers_lag() {
    let h = Harness::start().await;
    let gate = Arc::new(Semaphore::new(0));
    let handler_gate = gate.clone();
    let mut consumer = spec("lagging");
    consumer.batch = 1;
    consumer.concurrency = 1;
    consumer.stats_interval = Duration::from_millis(100);
    h.spawn(
        consumer,
        FnHandler(move |_| {
            let gate = handler_gate.clone();
            async move {
                gate.acquire().await.expect("open").forget();
                Ok(())
            }
        }),
    )
    .await;
    assert_eq!(gauge(&h, "consumer_pending_messages", "lagging"), Some(0));

    for seller in 1..=5 {
        h.publish(&seller_registered(seller)).await;
    }
    // The first message is held by the handler; the rest wait on the stream (or in the next
    // pull), so the consumer lags by at least three.
    eventually(
        Duration::from_secs(5),
        "pending ≥ 3 and one in flight",
        || async {
            gauge(&h, "consumer_pending_messages", "lagging").is_some_and(|n| n >= 3)
                && gauge(&h, "consumer_ack_pending_messages", "lagging").is_some_and(|n| n >= 1)
        },
    )
    .await;

    gate.add_permits(5);
    eventually(Duration::from_secs(10), "the lag drained", || async {
        gauge(&h, "consumer_pending_messages", "lagging") == Some(0)
            && gauge(&h, "consumer_ack_pending_messages", "lagging") == Some(0)
    })
    .await;
    h.cleanup().await;
}
