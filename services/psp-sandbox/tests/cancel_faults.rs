//! Faults on Toss's cancel: per-order cancel faults (timeout after the refund was applied,
//! errors) and global faults and latency.

mod common;

use std::time::Duration;

use common::{start, Sandbox};
use serde_json::{json, Value};

async fn lookup(sb: &Sandbox, payment_key: &str) -> Value {
    let (status, payment) = sb.toss_get(&format!("/v1/payments/{payment_key}")).await;
    assert_eq!(status, 200, "{payment}");
    payment
}

#[tokio::test]
async fn a_cancel_fault_hits_cancels_only_and_a_timeout_can_apply_the_refund_first() {
    let sb = start().await;
    let (order, key) = sb.approved(9000).await;
    let path = format!("/sandbox/faults/orders/{order}");
    let fault = json!({"operation": "cancel", "mode": "timeout", "timeoutMs": 3000,
                       "approveBeforeTimeout": true});
    let (status, view) = sb.put_json(&path, fault).await;
    assert_eq!(
        (status, &view["operation"]),
        (200, &json!("cancel")),
        "{view}"
    );
    // The confirm is not hit by a cancel fault.
    let (status, _, paid) = sb.send(sb.confirm(&key, &order, 9000)).await;
    assert_eq!(status, 200, "{paid}");

    let timed_out = sb
        .cancel(&key, Some(4000), &order)
        .timeout(Duration::from_millis(400))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(timed_out.is_timeout(), "{timed_out}");
    let payment = lookup(&sb, &key).await;
    assert_eq!(
        (&payment["status"], &payment["balanceAmount"]),
        (&json!("PARTIAL_CANCELED"), &json!(5000)),
        "refunded anyway"
    );
    // A retry with the same key answers the recorded refund at once, without a second one.
    let (status, _, replay) = sb
        .send(
            sb.cancel(&key, Some(4000), &order)
                .timeout(Duration::from_millis(1000)),
        )
        .await;
    assert_eq!(
        (status, &replay["balanceAmount"]),
        (200, &json!(5000)),
        "{replay}"
    );
    assert_eq!(
        lookup(&sb, &key).await["cancels"].as_array().map(Vec::len),
        Some(1)
    );

    // An error fault on cancel answers the error and refunds nothing; then it is used up.
    let fault = json!({"operation": "any", "mode": "error", "errorCode": "PROVIDER_ERROR"});
    assert_eq!(sb.put_json(&path, fault).await.0, 200);
    let (status, _, error) = sb.send(sb.cancel(&key, None, "e1")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("PROVIDER_ERROR"))
    );
    assert_eq!(lookup(&sb, &key).await["balanceAmount"], 5000);
    let (status, _, done) = sb.send(sb.cancel(&key, None, "e1")).await;
    assert_eq!(
        (status, &done["status"]),
        (200, &json!("CANCELED")),
        "{done}"
    );
}

#[tokio::test]
async fn global_faults_apply_to_cancels_and_latency_to_lookups() {
    let sb = start().await;
    let (_, key) = sb.paid(2000).await;
    let faults = json!({"errorRate": 1, "errorCode": "FAILED_INTERNAL_SYSTEM_PROCESSING",
                        "latencyMs": 300});
    assert_eq!(sb.put_json("/sandbox/faults", faults).await.0, 200);
    let (status, _, error) = sb.send(sb.cancel(&key, None, "g")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (500, Some("FAILED_INTERNAL_SYSTEM_PROCESSING"))
    );
    let started = std::time::Instant::now();
    assert_eq!(lookup(&sb, &key).await["status"], "DONE");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency on lookups"
    );
    let started = std::time::Instant::now();
    let (status, _) = sb
        .toss_get("/v1/transactions?startDate=2020-01-01T00:00:00&endDate=2100-01-01T00:00:00")
        .await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latency on transactions"
    );
}
