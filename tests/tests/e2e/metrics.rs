//! What `/metrics` tells an operator after real traffic: request counts and latency per
//! operation, payment outcomes, the outbox backlog, consumer lag and outcomes, dead letters.

use std::time::Duration;

use paymsa_e2e::{eventually, http::send, TestSystem};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// Checkout, approval in the sandbox, and (after `fault`, if any) confirm; the confirm's status.
async fn pay(system: &TestSystem, product: &str, fault: Option<Value>) -> u16 {
    let order_url = system.url("order-service");
    let psp_url = system.url("psp-sandbox");
    let (status, order) = send(
        system
            .http
            .post(format!("{order_url}/api/checkouts"))
            .json(&json!({"memberNo": "7", "productNos": [product]})),
    )
    .await;
    assert_eq!(status, 201, "checkout: {order}");
    let order_id = order["orderId"].as_str().expect("orderId");
    let (status, approval) = send(system.http.post(format!("{psp_url}/sandbox/approvals")).json(
        &json!({"orderId": order_id, "amount": order["amount"], "orderName": order["orderName"]}),
    ))
    .await;
    assert_eq!(status, 201, "approval: {approval}");
    if let Some(fault) = fault {
        let (status, body) = send(
            system
                .http
                .put(format!("{psp_url}/sandbox/faults/orders/{order_id}"))
                .json(&fault),
        )
        .await;
        assert_eq!(status, 200, "fault: {body}");
    }
    let (status, _) = send(
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
    status
}

async fn scrape(system: &TestSystem, service: &str) -> String {
    system
        .http
        .get(format!("{}/metrics", system.url(service)))
        .send()
        .await
        .expect("metrics answered")
        .text()
        .await
        .expect("text")
}

/// The value of `paymsa_{name}` whose labels include all of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let prefix = format!("paymsa_{name}{{");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_show_requests_payment_outcomes_outbox_and_consumers() {
    let system = paymsa_e2e::seed::start_seeded(&[]).await;
    assert_eq!(pay(&system, "1", None).await, 200);
    let declined = json!({"mode": "error", "errorCode": "REJECT_CARD_PAYMENT", "times": 1});
    assert_eq!(pay(&system, "2", Some(declined)).await, 422);

    // order-service: outcomes, confirm requests and their latency.
    let order = scrape(&system, "order-service").await;
    let outcome = |o: &str| value(&order, "payments_total", &[("outcome", o)]);
    assert_eq!(outcome("SUCCESS"), Some(1.0), "{order}");
    assert_eq!(outcome("FAILURE"), Some(1.0), "{order}");
    assert_eq!(outcome("UNKNOWN"), Some(0.0), "{order}");
    let confirm = [("operation", "confirm_payment"), ("method", "POST")];
    assert_eq!(
        value(
            &order,
            "http_requests_total",
            &[confirm[0], confirm[1], ("status", "200")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &order,
            "http_requests_total",
            &[confirm[0], confirm[1], ("status", "422")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&order, "http_request_duration_seconds_count", &[confirm[0]]),
        Some(2.0)
    );

    // The events left the outbox, and each consumer handled its share without lag, retries
    // or dead letters.
    let consumers = [
        ("order-service", "order-wallet-completion"),
        ("wallet-service", "wallet-settlement"),
        ("hot-catalog-service", "hot-catalog-orders"),
        ("order-query-service", "order-query-projection"),
        ("order-query-service", "order-query-wallet"),
    ];
    for (service, consumer) in consumers {
        let text = eventually(WAIT, &format!("{consumer} caught up"), || async {
            let text = scrape(&system, service).await;
            let of = |name: &str, extra: &[(&str, &str)]| {
                let mut labels = vec![("consumer", consumer)];
                labels.extend_from_slice(extra);
                value(&text, name, &labels)
            };
            let caught_up = of("consumer_messages_total", &[("outcome", "ack")])
                .is_some_and(|n| n >= 1.0)
                && of("consumer_pending_messages", &[]) == Some(0.0)
                && of("consumer_ack_pending_messages", &[]) == Some(0.0);
            caught_up.then_some(text)
        })
        .await;
        let of = |name: &str, extra: &[(&str, &str)]| {
            let mut labels = vec![("consumer", consumer)];
            labels.extend_from_slice(extra);
            value(&text, name, &labels)
        };
        assert_eq!(
            of("consumer_messages_total", &[("outcome", "retry")]),
            Some(0.0)
        );
        assert_eq!(
            of("consumer_messages_total", &[("outcome", "term")]),
            Some(0.0)
        );
        assert_eq!(of("consumer_redeliveries_total", &[]), Some(0.0));
        assert!(of("consumer_handle_seconds_count", &[]).is_some_and(|n| n >= 1.0));
        assert_eq!(
            value(&text, "dead_letters_stored", &[]),
            Some(0.0),
            "{text}"
        );
    }
    for service in ["order-service", "wallet-service"] {
        let text = eventually(WAIT, &format!("{service}'s outbox drained"), || async {
            let text = scrape(&system, service).await;
            (value(&text, "outbox_published_total", &[]).is_some_and(|n| n >= 1.0)
                && value(&text, "outbox_backlog", &[]) == Some(0.0))
            .then_some(text)
        })
        .await;
        assert_eq!(
            value(&text, "outbox_oldest_pending_age_seconds", &[]),
            Some(0.0)
        );
    }
    system.stop().await;
}
