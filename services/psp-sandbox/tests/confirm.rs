//! The Toss confirm and lookup API: charging, idempotency, validation and authentication.

mod common;

use common::{order_id, start, start_with, SECRET_KEY};
use serde_json::{json, Value};

#[tokio::test]
async fn approve_then_confirm_charges_once_and_lookups_show_done() {
    let sb = start().await;
    let (order, key) = sb.approved(15000).await;
    assert!(key.starts_with("tgen_"), "{key}");

    let (status, before) = sb.payment_by_order(&order).await;
    assert_eq!((status, before["status"].as_str()), (200, Some("READY")));
    assert!(before["approvedAt"].is_null());

    let (status, content_type, paid) = sb.send(sb.confirm(&key, &order, 15000)).await;
    assert_eq!(status, 200, "{paid}");
    assert!(content_type.starts_with("application/json"));
    for (field, want) in [
        ("status", json!("DONE")),
        ("paymentKey", json!(key)),
        ("orderId", json!(order)),
        ("orderName", json!("상품A 외 1건")),
        ("totalAmount", json!(15000)),
        ("balanceAmount", json!(15000)),
        ("suppliedAmount", json!(13636)),
        ("vat", json!(1364)),
        ("method", json!("카드")),
        ("currency", json!("KRW")),
        ("type", json!("NORMAL")),
        ("version", json!("2022-11-16")),
    ] {
        assert_eq!(paid[field], want, "{field}: {paid}");
    }
    let approved_at = paid["approvedAt"].as_str().expect("approvedAt");
    assert!(approved_at.ends_with("+09:00"), "{approved_at}");
    assert_eq!(paid["card"]["amount"], 15000);
    assert!(paid["mId"].is_string());

    let by_key = sb
        .send(
            sb.client
                .get(sb.url(&format!("/v1/payments/{key}")))
                .basic_auth(SECRET_KEY, None::<&str>),
        )
        .await;
    assert_eq!((by_key.0, by_key.2["status"].as_str()), (200, Some("DONE")));
    let (_, after) = sb.payment_by_order(&order).await;
    assert_eq!(after["approvedAt"], paid["approvedAt"]);

    let stats = sb.order_stats(&order).await;
    assert_eq!(
        stats,
        json!({"orderId": order, "confirmCalls": 1, "charged": true,
               "cancelCalls": 0, "refundedAmount": 0})
    );
    sb.stop().await;
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_stored_response_without_a_second_charge() {
    let sb = start().await;
    let (order, key) = sb.approved(3000).await;
    let first = sb.confirm_keyed(&key, &order, 3000, &order);
    let second = first.try_clone().expect("clonable");
    let a = first.send().await.expect("sent");
    let (a_status, a_body) = (a.status(), a.text().await.expect("body"));
    let b = second.send().await.expect("sent");
    let (b_status, b_body) = (b.status(), b.text().await.expect("body"));
    assert_eq!(a_status, 200, "{a_body}");
    assert_eq!(
        (a_status, &a_body),
        (b_status, &b_body),
        "byte-identical replay"
    );

    let stats = sb.get_json("/sandbox/stats").await;
    assert_eq!(
        (stats["charges"].as_u64(), stats["confirmCalls"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(sb.order_stats(&order).await["charged"], true);
}

#[tokio::test]
async fn another_key_on_a_done_payment_is_already_processed_in_tosss_format() {
    let sb = start().await;
    let (order, key) = sb.approved(1000).await;
    let (status, _, _) = sb.send(sb.confirm_keyed(&key, &order, 1000, "k1")).await;
    assert_eq!(status, 200);
    let (status, content_type, error) = sb.send(sb.confirm_keyed(&key, &order, 1000, "k2")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("ALREADY_PROCESSED_PAYMENT"))
    );
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let fields: Vec<&String> = error.as_object().expect("object").keys().collect();
    assert_eq!(
        fields,
        ["code", "message"],
        "Toss's error object, not problem+json"
    );
    assert_eq!(sb.get_json("/sandbox/stats").await["charges"], 1);
}

#[tokio::test]
async fn mismatched_amount_or_order_is_rejected_and_nothing_is_charged() {
    let sb = start().await;
    let (order, key) = sb.approved(2000).await;
    let (status, _, error) = sb.send(sb.confirm(&key, &order, 1)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("INVALID_REQUEST")),
        "{error}"
    );
    let (status, _, error) = sb.send(sb.confirm(&key, &order_id(), 2000)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("INVALID_REQUEST")),
        "{error}"
    );
    let (_, payment) = sb.payment_by_order(&order).await;
    assert_eq!(payment["status"], "READY");
    assert_eq!(sb.order_stats(&order).await["charged"], false);
    assert_eq!(sb.get_json("/sandbox/stats").await["charges"], 0);
    // A later correct confirm still works: the rejected ones changed nothing.
    let (status, _, _) = sb.send(sb.confirm(&key, &order, 2000)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_payments_are_not_found() {
    let sb = start().await;
    let (status, _, error) = sb.send(sb.confirm("tgen_nope", &order_id(), 1000)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
    let (status, error) = sb.payment_by_order(&order_id()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
}

#[tokio::test]
async fn confirm_needs_a_secret_key() {
    let sb = start_with(&[("PSP_SECRET_KEY", "live_sk_paymsa_configured")]).await;
    let (order, key) = sb.approved(1000).await;
    let body = json!({"paymentKey": key, "orderId": order, "amount": 1000});
    let url = sb.url("/v1/payments/confirm");
    let cases = [
        sb.client.post(&url).json(&body),
        sb.client
            .post(&url)
            .basic_auth("live_sk_unknown", None::<&str>)
            .json(&body),
        sb.client.post(&url).bearer_auth(SECRET_KEY).json(&body),
    ];
    for request in cases {
        let (status, _, error) = sb.send(request).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (401, Some("UNAUTHORIZED_KEY")),
            "{error}"
        );
    }
    assert_eq!(sb.order_stats(&order).await["charged"], false);
    let configured = sb
        .client
        .post(&url)
        .basic_auth("live_sk_paymsa_configured", None::<&str>)
        .json(&body);
    assert_eq!(sb.send(configured).await.0, 200);
}

#[tokio::test]
async fn malformed_bodies_are_tosss_invalid_request_and_string_amounts_are_accepted() {
    let sb = start().await;
    let (order, key) = sb.approved(1000).await;
    for bad in [
        json!({"paymentKey": key}),
        json!({"paymentKey": key, "orderId": order, "amount": 10.5}),
        json!({"paymentKey": 42, "orderId": order, "amount": 1000}),
    ] {
        let (status, content_type, error) = sb.send(sb.confirm_body(&bad)).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{error}"
        );
        assert!(content_type.starts_with("application/json"));
    }
    // rust_decimal clients send amounts as strings.
    let string_amount = json!({"paymentKey": key, "orderId": order, "amount": "1000"});
    let (status, _, paid) = sb.send(sb.confirm_body(&string_amount)).await;
    assert_eq!(
        (status, paid["totalAmount"].clone()),
        (200, Value::from(1000))
    );
}

#[tokio::test]
async fn concurrent_confirms_charge_exactly_once() {
    let sb = start_with(&[("SANDBOX_LATENCY_MS", "100")]).await;
    let (order, key) = sb.approved(5000).await;
    // Half reuse one key (a retrying client), half use their own (a buggy one).
    let requests = (0..10).map(|i| {
        let idem = if i % 2 == 0 {
            "same".to_string()
        } else {
            format!("own-{i}")
        };
        sb.confirm_keyed(&key, &order, 5000, &idem).send()
    });
    let mut codes = Vec::new();
    for resp in futures_join(requests).await {
        let (status, _, value) = common::body(resp.expect("sent")).await;
        codes.push((status, value["code"].as_str().unwrap_or("DONE").to_string()));
    }
    assert_eq!(
        sb.get_json("/sandbox/stats").await["charges"],
        1,
        "{codes:?}"
    );
    let done = codes.iter().filter(|(s, _)| *s == 200).count();
    assert!(done >= 1, "{codes:?}");
    assert!(
        codes.iter().all(|(s, c)| *s == 200
            || c == "ALREADY_PROCESSED_PAYMENT"
            || c == "IDEMPOTENT_REQUEST_PROCESSING"),
        "{codes:?}"
    );
}

/// Without a latency fault the key is claimed in the confirm's own transaction, with an
/// advisory lock on it (src/idempotency.rs `admit`): a duplicate that finds the lock taken is
/// answered 409 at once, as Toss answers a key still being processed, and charges nothing.
#[tokio::test]
async fn without_latency_a_key_still_being_processed_is_answered_409() {
    use sqlx::Connection;
    let sb = start().await;
    let (order, key) = sb.approved(5000).await;
    let url = sb.config.database_url.clone().expect("a database");
    let mut holder = sqlx::PgConnection::connect(url.as_str())
        .await
        .expect("connected");
    let hold = "select pg_advisory_lock(hashtext('confirm'), hashtext('same'))";
    sqlx::query(hold).execute(&mut holder).await.expect("held");
    let (status, _, error) = sb.send(sb.confirm_keyed(&key, &order, 5000, "same")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("IDEMPOTENT_REQUEST_PROCESSING"))
    );
    assert_eq!(sb.get_json("/sandbox/stats").await["charges"], 0);
    sqlx::query("select pg_advisory_unlock_all()")
        .execute(&mut holder)
        .await
        .expect("released");

    // Released: ten at once, one charge; each is the stored answer or a 409.
    let requests = (0..10).map(|_| sb.confirm_keyed(&key, &order, 5000, "same").send());
    let mut answers = Vec::new();
    for resp in futures_join(requests).await {
        let (status, _, value) = common::body(resp.expect("sent")).await;
        answers.push((status, value));
    }
    assert_eq!(sb.get_json("/sandbox/stats").await["charges"], 1);
    let paid = answers
        .iter()
        .find(|a| a.0 == 200)
        .expect("one went through");
    assert!(
        answers
            .iter()
            .all(|a| a == paid || (a.0 == 409 && a.1["code"] == "IDEMPOTENT_REQUEST_PROCESSING")),
        "{answers:?}"
    );
}

/// Runs the futures concurrently on the test runtime (no extra dependency for join_all).
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("joined"));
    }
    out
}

#[tokio::test]
async fn reset_forgets_payments_replies_and_statistics() {
    let sb = start().await;
    let (order, key) = sb.approved(1000).await;
    let (status, _, _) = sb.send(sb.confirm_keyed(&key, &order, 1000, &order)).await;
    assert_eq!(status, 200);
    let (status, _, _) = sb.send(sb.client.post(sb.url("/sandbox/reset"))).await;
    assert_eq!(status, 204);
    let stats = sb.get_json("/sandbox/stats").await;
    assert_eq!(
        stats,
        json!({"confirmCalls": 0, "charges": 0, "cancelCalls": 0, "refundedAmount": 0,
               "perOrder": []})
    );
    assert_eq!(sb.payment_by_order(&order).await.0, 404);
    // The stored reply went too: the same key now meets an unknown payment.
    let (status, _, error) = sb.send(sb.confirm_keyed(&key, &order, 1000, &order)).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );
}
