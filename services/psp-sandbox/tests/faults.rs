//! Fault injection: Toss test codes, per-order faults, seeded global faults and the settings
//! read at start.

mod common;

use std::time::Duration;

use common::{start, start_with};
use serde_json::json;

#[tokio::test]
async fn the_test_code_header_answers_that_toss_error() {
    let sb = start().await;
    let (order, key) = sb.approved(1000).await;
    let with_code = |code: &str| {
        sb.confirm(&key, &order, 1000)
            .header("TossPayments-Test-Code", code)
    };

    // A transient error leaves the payment READY.
    let (status, _, error) = sb.send(with_code("PROVIDER_ERROR")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("PROVIDER_ERROR"))
    );
    let (status, content_type, error) = sb
        .send(with_code("FAILED_INTERNAL_SYSTEM_PROCESSING"))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (500, Some("FAILED_INTERNAL_SYSTEM_PROCESSING"))
    );
    assert!(
        content_type.starts_with("application/json"),
        "5xx keeps Toss's format"
    );
    let (status, _, error) = sb.send(with_code("NO_SUCH_CODE")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
    assert_eq!(sb.payment_by_order(&order).await.1["status"], "READY");

    // A decline aborts it for good.
    let (status, _, error) = sb.send(with_code("REJECT_CARD_PAYMENT")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("REJECT_CARD_PAYMENT"))
    );
    let (_, payment) = sb.payment_by_order(&order).await;
    assert_eq!(payment["status"], "ABORTED");
    assert_eq!(payment["failure"]["code"], "REJECT_CARD_PAYMENT");
    let (status, _, error) = sb.send(sb.confirm(&key, &order, 1000)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("REJECT_CARD_PAYMENT"))
    );
    assert_eq!(sb.get_json("/sandbox/stats").await["charges"], 0);
}

#[tokio::test]
async fn a_timeout_that_charged_first_is_found_by_looking_the_order_up() {
    let sb = start().await;
    let (order, key) = sb.approved(7000).await;
    let fault = json!({"mode": "timeout", "timeoutMs": 3000, "approveBeforeTimeout": true});
    let (status, view) = sb
        .put_json(&format!("/sandbox/faults/orders/{order}"), fault)
        .await;
    assert_eq!(
        (status, view["remaining"].as_u64()),
        (200, Some(1)),
        "{view}"
    );

    let timed_out = sb
        .confirm_keyed(&key, &order, 7000, &order)
        .timeout(Duration::from_millis(400))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(timed_out.is_timeout(), "{timed_out}");

    let (status, payment) = sb.payment_by_order(&order).await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (200, Some("DONE")),
        "charged anyway"
    );
    // A retry with the same key answers the recorded success at once, without charging again.
    let (status, _, replay) = sb
        .send(
            sb.confirm_keyed(&key, &order, 7000, &order)
                .timeout(Duration::from_millis(1000)),
        )
        .await;
    assert_eq!((status, replay["status"].as_str()), (200, Some("DONE")));
    let stats = sb.order_stats(&order).await;
    assert_eq!(
        stats,
        json!({"orderId": order, "confirmCalls": 2, "charged": true,
               "cancelCalls": 0, "refundedAmount": 0})
    );
    assert_eq!(sb.get_json("/sandbox/stats").await["charges"], 1);
}

#[tokio::test]
async fn a_timeout_without_charge_leaves_the_payment_ready_and_the_key_reusable() {
    let sb = start().await;
    let (order, key) = sb.approved(7000).await;
    let fault = json!({"mode": "timeout", "timeoutMs": 1500, "approveBeforeTimeout": false});
    sb.put_json(&format!("/sandbox/faults/orders/{order}"), fault)
        .await;
    let timed_out = sb
        .confirm_keyed(&key, &order, 7000, &order)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("times out");
    assert!(timed_out.is_timeout());
    assert_eq!(sb.payment_by_order(&order).await.1["status"], "READY");
    let (status, _, paid) = sb.send(sb.confirm_keyed(&key, &order, 7000, &order)).await;
    assert_eq!(
        (status, paid["status"].as_str()),
        (200, Some("DONE")),
        "{paid}"
    );
}

#[tokio::test]
async fn a_per_order_error_hits_the_next_n_confirms_then_stops() {
    let sb = start().await;
    let (order, key) = sb.approved(1000).await;
    let path = format!("/sandbox/faults/orders/{order}");
    let code = "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING";
    let fault = json!({"mode": "error", "errorCode": code, "times": 2});
    assert_eq!(sb.put_json(&path, fault).await.0, 200);
    for _ in 0..2 {
        let (status, _, error) = sb.send(sb.confirm(&key, &order, 1000)).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (500, Some("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"))
        );
    }
    let (status, _, _) = sb.send(sb.client.get(sb.url(&path))).await;
    assert_eq!(status, 404, "the fault is used up");
    assert_eq!(sb.send(sb.confirm(&key, &order, 1000)).await.0, 200);

    let (status, problem) = sb
        .put_json(&path, json!({"mode": "error", "errorCode": "NOPE"}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("VALIDATION_FAILED"))
    );
}

#[tokio::test]
async fn global_faults_are_validated_applied_and_reset() {
    let sb = start().await;
    let defaults = sb.get_json("/sandbox/faults").await;
    assert_eq!(
        (
            defaults["errorRate"].as_f64(),
            defaults["errorCode"].as_str()
        ),
        (Some(0.0), Some("PROVIDER_ERROR"))
    );
    for bad in [
        json!({"errorRate": 2}),
        json!({"errorCode": "NOPE"}),
        json!({"latencyMs": 1, "extra": 1}),
    ] {
        let (status, _, problem) = sb
            .send(sb.client.put(sb.url("/sandbox/faults")).json(&bad))
            .await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert!(problem["code"].is_string(), "problem+json: {problem}");
    }
    let (status, set) = sb
        .put_json(
            "/sandbox/faults",
            json!({"errorRate": 1, "errorCode": "REJECT_CARD_COMPANY"}),
        )
        .await;
    assert_eq!(
        (status, set["errorRate"].as_f64()),
        (200, Some(1.0)),
        "{set}"
    );
    let (order, key) = sb.approved(1000).await;
    let (status, _, error) = sb.send(sb.confirm(&key, &order, 1000)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("REJECT_CARD_COMPANY"))
    );
    assert_eq!(sb.payment_by_order(&order).await.1["status"], "ABORTED");

    assert_eq!(sb.put_json("/sandbox/faults", json!({})).await.0, 200);
    let (order, key) = sb.approved(1000).await;
    assert_eq!(sb.send(sb.confirm(&key, &order, 1000)).await.0, 200);
}

#[tokio::test]
async fn seeded_faults_repeat_exactly() {
    let sb = start().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let faults = json!({"errorRate": 0.5, "errorCode": "PROVIDER_ERROR", "seed": 20240213});
        assert_eq!(sb.put_json("/sandbox/faults", faults).await.0, 200);
        let mut pattern = Vec::new();
        for _ in 0..16 {
            let (order, key) = sb.approved(1000).await;
            pattern.push(sb.send(sb.confirm(&key, &order, 1000)).await.0);
        }
        runs.push(pattern);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&400),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn initial_faults_come_from_the_environment_and_typos_stop_start_up() {
    let sb = start_with(&[
        ("SANDBOX_LATENCY_MS", "20"),
        ("SANDBOX_ERROR_RATE", "0.25"),
        ("SANDBOX_TIMEOUT_RATE", "0.1"),
        ("SANDBOX_SEED", "9"),
    ])
    .await;
    let faults = sb.get_json("/sandbox/faults").await;
    assert_eq!(
        faults,
        json!({"latencyMs": 20, "errorRate": 0.25, "errorCode": "PROVIDER_ERROR",
               "timeoutRate": 0.1, "timeoutMs": 15000, "approveBeforeTimeout": false, "seed": 9,
               "webhookDuplicateRate": 0.0, "webhookDelayMs": 0, "payoutFailRate": 0.0})
    );
    for (name, value) in [
        ("SANDBOX_ERROR_RATE", "lots"),
        ("SANDBOX_ERROR_RATE", "1.5"),
        ("SANDBOX_TIMEOUT_RATE", "-1"),
        ("SANDBOX_ERROR_CODE", "NOPE"),
        ("SANDBOX_LATENCY_MS", "-5"),
        ("SANDBOX_PAYOUT_DELAY_MS", "soon"),
        ("SANDBOX_WEBHOOK_URLS", "ftp://example.com"),
        ("SANDBOX_WEBHOOK_RETRY_MS", "1000,later"),
    ] {
        let mut config = service_kit::testing::test_config(
            &psp_sandbox::SPEC,
            &service_kit::testing::unique_namespace(),
        );
        config.extra.insert(name.into(), value.into());
        let err = psp_sandbox::build(config)
            .await
            .err()
            .unwrap_or_else(|| panic!("{name}={value} must be rejected"));
        assert!(err.to_string().contains(name), "{name}={value}: {err}");
    }
}
