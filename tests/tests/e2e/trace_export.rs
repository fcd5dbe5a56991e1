//! One payment, one exported trace: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the spans of the
//! confirm request, the PSP call, the outbox publishes and every consumer's handling reach an
//! OTLP/HTTP receiver (a real one, started here: paymsa_e2e::otlp) in one trace whose parent
//! links form one tree rooted at the confirm.
//!
//! The services run in this process, so one export (service_kit::otel) serves them all; the
//! `service` attribute of each span says which service it belongs to. This test installs the
//! process's subscriber, so it lives in a test binary of its own.

use std::{collections::HashMap, time::Duration};

use paymsa_e2e::{
    eventually,
    http::send,
    otlp::{Receiver, Span},
};
use serde_json::json;
use service_kit::otel::{OtelConfig, TraceExport};

const WAIT: Duration = Duration::from_secs(45);
const MEMBER: &str = "7";

/// The consumers that handle one payment's two events, by service.
const HANDLERS: [(&str, &str); 6] = [
    ("wallet-service", "wallet-settlement"),
    ("hot-catalog-service", "hot-catalog-orders"),
    ("order-query-service", "order-query-projection"),
    ("catalog-review-service", "review-purchases"),
    ("order-service", "order-wallet-completion"),
    ("order-query-service", "order-query-wallet"),
];

fn find<'a>(spans: &'a [Span], what: &str, pick: impl Fn(&Span) -> bool) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| pick(s)).collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!("want exactly one {what}, found {}: {found:#?}", found.len()),
    }
}

fn consume<'a>(spans: &'a [Span], service: &str, consumer: &str) -> Option<&'a Span> {
    spans.iter().find(|s| {
        s.attr("consumer") == Some(consumer)
            && s.attr("service") == Some(service)
            && s.name.starts_with("consume")
    })
}

fn publish<'a>(spans: &'a [Span], service: &str, subject: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| {
            s.attr("service") == Some(service)
                && s.attr("subject").is_some_and(|sub| sub.ends_with(subject))
                && s.name.starts_with("publish")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payment_is_one_exported_trace_across_http_outbox_nats_and_every_consumer() {
    let receiver = Receiver::start().await;
    let export = TraceExport::start(&OtelConfig {
        endpoint: receiver.url.clone(),
        service_name: "paymsa-e2e".into(),
    })
    .expect("exporter");
    // Before any service starts: callsites remember the first subscriber's interest.
    service_kit::telemetry::init_test_tracing_with(&export);
    let system =
        paymsa_e2e::seed::start_seeded(&[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str())])
            .await;
    let order_url = system.url("order-service");

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
    // No traceparent: the confirm starts the payment's trace.
    let (status, outcome) = send(
        system
            .http
            .post(format!("{order_url}/api/payments/confirm"))
            .json(&json!({
                "paymentKey": approval["paymentKey"],
                "orderId": order_id,
                "amount": order["amount"],
            })),
    )
    .await;
    assert_eq!(status, 200, "confirm: {outcome}");

    // Spans leave in batches: flush until the last handler's span has arrived.
    let spans = eventually(WAIT, "every span of the payment exported", || async {
        let flushing = export.clone();
        tokio::task::spawn_blocking(move || flushing.flush())
            .await
            .expect("flush");
        let spans = receiver.spans();
        let confirm = spans.iter().find(|s| {
            s.attr("operation") == Some("confirm_payment")
                && s.attr("service") == Some("order-service")
        })?;
        let trace: Vec<Span> = spans
            .iter()
            .filter(|s| s.trace_id == confirm.trace_id)
            .cloned()
            .collect();
        let complete = HANDLERS
            .iter()
            .all(|(service, consumer)| consume(&trace, service, consumer).is_some())
            && !publish(&trace, "wallet-service", "wallet.settled").is_empty();
        complete.then_some(trace)
    })
    .await;
    assert!(receiver.requests() > 0);

    // The root: order-service's confirm, a server span named after its operation.
    let confirm = find(&spans, "confirm span", |s| {
        s.attr("operation") == Some("confirm_payment") && s.attr("service") == Some("order-service")
    });
    assert_eq!(
        confirm.parent_span_id, "",
        "the confirm is the trace's root"
    );
    assert_eq!(confirm.name, "POST confirm_payment");
    assert_eq!(confirm.resource_service, "paymsa-e2e");
    assert_eq!(confirm.trace_id.len(), 32);

    // One tree: ids are unique, and every span but the root has its parent in the trace.
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    assert_eq!(by_id.len(), spans.len(), "span ids are unique: {spans:#?}");
    for span in &spans {
        if span.span_id != confirm.span_id {
            assert!(
                by_id.contains_key(span.parent_span_id.as_str()),
                "{} ({:?}) has a parent outside the trace: {spans:#?}",
                span.name,
                span.attr("service")
            );
        }
    }

    // The PSP call is the confirm's child, and psp-sandbox's handling of it the call's.
    let psp = find(&spans, "PSP confirm call", |s| s.name == "psp confirm");
    assert_eq!(psp.parent_span_id, confirm.span_id);
    let sandbox = find(&spans, "psp-sandbox confirm", |s| {
        s.attr("service") == Some("psp-sandbox") && s.parent_span_id == psp.span_id
    });
    assert!(sandbox.name.starts_with("POST"), "{sandbox:#?}");

    // order.payment.confirmed: written by the confirm, published under it, and handled
    // under it by wallet-, hot-catalog-, order-query- and catalog-review-service.
    let confirmed = publish(&spans, "order-service", "order.payment.confirmed");
    assert!(!confirmed.is_empty(), "{spans:#?}");
    assert!(confirmed
        .iter()
        .all(|p| p.parent_span_id == confirm.span_id));
    let settlement = consume(&spans, "wallet-service", "wallet-settlement").expect("settlement");
    for (service, consumer) in &HANDLERS[..4] {
        let handled = consume(&spans, service, consumer).expect("handled");
        assert_eq!(handled.parent_span_id, confirm.span_id, "{consumer}");
    }
    // wallet.settled: written while wallet-service settled, so its publish and its consumers
    // (order-service, order-query-service) are children of the settlement.
    let settled = publish(&spans, "wallet-service", "wallet.settled");
    assert!(settled
        .iter()
        .all(|p| p.parent_span_id == settlement.span_id));
    for (service, consumer) in &HANDLERS[4..] {
        let handled = consume(&spans, service, consumer).expect("handled");
        assert_eq!(handled.parent_span_id, settlement.span_id, "{consumer}");
    }

    // The checkout before it was a trace of its own.
    let checkout = receiver
        .spans()
        .into_iter()
        .find(|s| s.attr("operation") == Some("checkout"))
        .expect("the checkout was exported");
    assert_ne!(checkout.trace_id, confirm.trace_id);

    system.stop().await;
    tokio::task::spawn_blocking(move || export.shutdown())
        .await
        .expect("shutdown");
}
