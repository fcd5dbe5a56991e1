//! One payment, one trace: the `traceparent` a client sends with its confirm reaches every
//! service that handles the payment — HTTP → outbox → NATS header → consumer → outbox →
//! NATS → consumer — so the payment's log lines in order-, wallet-, hot-catalog- and
//! order-query-service share one trace id.
//!
//! The services run in this process, so one subscriber ([`LogCapture`]) sees all their logs
//! with the fields of the spans they were written in (`service`, `trace_id`, `span_id`, and
//! `consumer` for a consumed message).

use std::{collections::HashSet, time::Duration};

use async_nats::jetstream;
use events::{
    topology::{ORDERS, WALLETS},
    StreamDef, Topology,
};
use paymsa_e2e::{eventually, http::send};
use serde_json::json;
use service_kit::{
    log_capture::{CapturedEvent, LogCapture},
    TraceContext,
};

const WAIT: Duration = Duration::from_secs(30);
const MEMBER: &str = "7";

/// The `traceparent` header of the last message of `subject` in `stream`.
async fn traceparent_of(
    js: &jetstream::Context,
    topology: &Topology,
    stream: &StreamDef,
    subject: &str,
) -> TraceContext {
    let stream = js
        .get_stream(topology.stream_name(stream))
        .await
        .expect("stream exists");
    let message = stream
        .get_last_raw_message_by_subject(&topology.subject(subject))
        .await
        .unwrap_or_else(|e| panic!("no {subject} message: {e}"));
    let header = message
        .headers
        .get("traceparent")
        .unwrap_or_else(|| panic!("{subject} has no traceparent header"));
    TraceContext::parse(header.as_str())
        .unwrap_or_else(|| panic!("{subject}: invalid traceparent {header:?}"))
}

/// The payment's log lines that `service` wrote while handling a message of `consumer`.
fn consumed<'a>(
    lines: &'a [CapturedEvent],
    service: &str,
    consumer: &str,
) -> Vec<&'a CapturedEvent> {
    lines
        .iter()
        .filter(|e| {
            e.in_span("consume")
                && e.field("service") == Some(service)
                && e.field("consumer") == Some(consumer)
        })
        .collect()
}

#[tokio::test]
async fn one_payments_trace_id_is_in_the_logs_of_order_wallet_hot_catalog_and_order_query() {
    // Before any service logs: callsites remember whether a subscriber wanted them.
    let logs = LogCapture::install();
    let system = paymsa_e2e::seed::start_seeded(&[]).await;
    let order_url = system.url("order-service");

    // Checkout and approval in their own traces; the confirm carries the client's trace.
    let (status, order) = send(
        system
            .http
            .post(format!("{order_url}/api/checkouts"))
            .json(&json!({"memberNo": MEMBER, "productNos": ["1", "2"]})),
    )
    .await;
    assert_eq!(status, 201, "checkout: {order}");
    let order_id = order["orderId"].as_str().expect("orderId").to_string();
    let (status, approval) = send(
        system
            .http
            .post(format!("{}/sandbox/approvals", system.url("psp-sandbox")))
            .json(&json!({
                "orderId": order_id,
                "amount": order["amount"],
                "orderName": order["orderName"],
            })),
    )
    .await;
    assert_eq!(status, 201, "approval: {approval}");

    let client = TraceContext::new_root();
    let trace_id = client.trace_id();
    let (status, outcome) = send(
        system
            .http
            .post(format!("{order_url}/api/payments/confirm"))
            .header("traceparent", client.traceparent())
            .json(&json!({
                "paymentKey": approval["paymentKey"],
                "orderId": order_id,
                "amount": order["amount"],
            })),
    )
    .await;
    assert_eq!(status, 200, "confirm: {outcome}");

    // Every consumer of the payment's two events handles it under the client's trace id.
    let handlers = [
        ("wallet-service", "wallet-settlement"),
        ("hot-catalog-service", "hot-catalog-orders"),
        ("order-query-service", "order-query-projection"),
        ("order-service", "order-wallet-completion"),
        ("order-query-service", "order-query-wallet"),
    ];
    let lines = eventually(WAIT, "every handler of the payment done", || async {
        let lines = logs.with_field("trace_id", &trace_id);
        handlers
            .iter()
            .all(|(service, consumer)| {
                consumed(&lines, service, consumer)
                    .iter()
                    .any(|e| e.message == "handled")
            })
            .then_some(lines)
    })
    .await;

    // order-service: the confirm request, in a span of its own under the client's trace, and
    // the outcome it recorded there.
    let confirm: Vec<&CapturedEvent> = lines
        .iter()
        .filter(|e| e.in_span("http") && e.field("service") == Some("order-service"))
        .collect();
    let outcome_line = confirm
        .iter()
        .find(|e| e.message == "payment outcome recorded")
        .unwrap_or_else(|| panic!("order-service logged no outcome in the trace: {confirm:#?}"));
    assert_eq!(outcome_line.field("outcome"), Some("SUCCESS"));
    assert_eq!(outcome_line.field("order_id"), Some(order_id.as_str()));
    let confirm_span = outcome_line.field("span_id").expect("span id").to_string();
    assert_ne!(
        confirm_span,
        client.span_id(),
        "the server's span is a child"
    );
    assert!(
        confirm.iter().any(|e| e.message == "request handled"
            && e.field("operation") == Some("confirm_payment")
            && e.field("status") == Some("200")),
        "{confirm:#?}"
    );

    // On the wire: order.payment.confirmed carries the confirm's context; wallet.settled the
    // context of wallet-service's handling of it — same trace, one hop further.
    let js = jetstream::new(
        async_nats::connect(std::env::var("TEST_NATS_URL").expect("TEST_NATS_URL"))
            .await
            .expect("NATS reachable"),
    );
    let topology = Topology::new(&system.namespace);
    let confirmed = traceparent_of(&js, &topology, &ORDERS, "order.payment.confirmed").await;
    assert_eq!(confirmed.trace_id(), trace_id);
    assert_eq!(confirmed.span_id(), confirm_span);
    let settled = traceparent_of(&js, &topology, &WALLETS, "wallet.settled").await;
    assert_eq!(settled.trace_id(), trace_id);
    let settlement = consumed(&lines, "wallet-service", "wallet-settlement");
    assert_eq!(
        settlement[0].field("span_id"),
        Some(settled.span_id().as_str()),
        "wallet.settled was written while wallet-service handled order.payment.confirmed"
    );

    // Each handling is a span of its own in the trace: a child of the message's context.
    let mut spans: Vec<&str> = handlers
        .iter()
        .map(|(service, consumer)| {
            consumed(&lines, service, consumer)[0]
                .field("span_id")
                .expect("span id")
        })
        .collect();
    spans.push(&confirm_span);
    let distinct: HashSet<&str> = spans.iter().copied().collect();
    assert_eq!(distinct.len(), spans.len(), "span ids: {spans:?}");

    // The checkout before the confirm was another trace.
    assert!(
        logs.events()
            .iter()
            .filter(|e| e.field("operation") == Some("checkout"))
            .all(|e| e.field("trace_id") != Some(trace_id.as_str())),
        "the checkout is not part of the confirm's trace"
    );

    system.stop().await;
}
