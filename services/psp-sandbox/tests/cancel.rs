//! Toss's cancel: full and partial refunds, refusals, Idempotency-Key replay and faults.

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
async fn a_cancel_without_amount_refunds_everything_once() {
    let sb = start().await;
    let (order, key) = sb.paid(15000).await;
    let (status, _, canceled) = sb.send(sb.cancel(&key, None, "c1")).await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(
        (
            &canceled["status"],
            &canceled["balanceAmount"],
            &canceled["totalAmount"]
        ),
        (&json!("CANCELED"), &json!(0), &json!(15000))
    );
    let cancels = canceled["cancels"].as_array().expect("cancels");
    assert_eq!(cancels.len(), 1, "{canceled}");
    let c = &cancels[0];
    for (field, want) in [
        ("cancelAmount", json!(15000)),
        ("cancelReason", json!("고객 변심")),
        ("taxFreeAmount", json!(0)),
        ("taxExemptionAmount", json!(0)),
        ("refundableAmount", json!(0)),
        ("easyPayDiscountAmount", json!(0)),
        ("cancelStatus", json!("DONE")),
        ("cancelRequestId", Value::Null),
    ] {
        assert_eq!(c[field], want, "{field}: {c}");
    }
    assert!(c["canceledAt"]
        .as_str()
        .is_some_and(|t| t.ends_with("+09:00")));
    assert_eq!(canceled["lastTransactionKey"], c["transactionKey"]);
    assert!(c["receiptKey"].is_string());
    assert_eq!(canceled["isPartialCancelable"], false);

    // Lookups show the same; a second cancel (another key) meets a cancelled payment.
    assert_eq!(lookup(&sb, &key).await["cancels"], canceled["cancels"]);
    let (_, by_order) = sb.payment_by_order(&order).await;
    assert_eq!(by_order["balanceAmount"], 0);
    let (status, _, error) = sb.send(sb.cancel(&key, None, "c2")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("ALREADY_CANCELED_PAYMENT"))
    );
    // The charge stands in the statistics; the refund is counted beside it.
    assert_eq!(
        sb.order_stats(&order).await,
        json!({"orderId": order, "confirmCalls": 1, "charged": true,
               "cancelCalls": 2, "refundedAmount": 15000})
    );
}

#[tokio::test]
async fn partial_cancels_reduce_the_balance_until_the_rest_is_cancelled() {
    let sb = start().await;
    let (order, key) = sb.paid(10000).await;
    for (i, (amount, balance)) in [(3000, 7000), (2000, 5000)].into_iter().enumerate() {
        let (status, _, p) = sb
            .send(sb.cancel(&key, Some(amount), &format!("p{i}")))
            .await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(
            (&p["status"], &p["balanceAmount"]),
            (&json!("PARTIAL_CANCELED"), &json!(balance))
        );
        assert_eq!(p["isPartialCancelable"], true);
        let last = p["cancels"]
            .as_array()
            .and_then(|c| c.last())
            .expect("cancel");
        assert_eq!(
            (&last["cancelAmount"], &last["refundableAmount"]),
            (&json!(amount), &json!(balance))
        );
    }
    // A string amount, as rust_decimal clients send it, works for cancels too.
    let body = json!({"cancelReason": "rest", "cancelAmount": "5000"});
    let (status, _, p) = sb.send(sb.cancel_body(&key, &body)).await;
    assert_eq!((status, &p["status"]), (200, &json!("CANCELED")), "{p}");
    let amounts: Vec<&Value> = p["cancels"]
        .as_array()
        .expect("cancels")
        .iter()
        .map(|c| &c["cancelAmount"])
        .collect();
    assert_eq!(amounts, [&json!(3000), &json!(2000), &json!(5000)]);
    assert_eq!(sb.order_stats(&order).await["refundedAmount"], 10000);
    let stats = sb.get_json("/sandbox/stats?perOrder=false").await;
    assert_eq!(
        (&stats["cancelCalls"], &stats["refundedAmount"]),
        (&json!(3), &json!(10000))
    );
}

#[tokio::test]
async fn more_than_the_balance_is_refused_and_changes_nothing() {
    let sb = start().await;
    let (_, key) = sb.paid(5000).await;
    assert_eq!(sb.send(sb.cancel(&key, Some(2000), "a")).await.0, 200);
    let (status, _, error) = sb.send(sb.cancel(&key, Some(3001), "b")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("NOT_CANCELABLE_AMOUNT")),
        "{error}"
    );
    let payment = lookup(&sb, &key).await;
    assert_eq!(
        (&payment["balanceAmount"], &payment["status"]),
        (&json!(3000), &json!("PARTIAL_CANCELED"))
    );
    // The refusal was not stored: the same key is evaluated again and now fits.
    let (status, _, p) = sb.send(sb.cancel(&key, Some(3000), "b")).await;
    assert_eq!((status, &p["status"]), (200, &json!("CANCELED")), "{p}");
}

#[tokio::test]
async fn the_same_key_replays_the_stored_cancel_and_in_flight_is_409() {
    let sb = start().await;
    let (_, key) = sb.paid(8000).await;
    let first = sb.cancel(&key, Some(1000), "same");
    let again = first.try_clone().expect("clonable");
    let a = first.send().await.expect("sent");
    let (a_status, a_body) = (a.status(), a.text().await.expect("body"));
    let b = again.send().await.expect("sent");
    let (b_status, b_body) = (b.status(), b.text().await.expect("body"));
    assert_eq!(a_status, 200, "{a_body}");
    assert_eq!(
        (a_status, &a_body),
        (b_status, &b_body),
        "byte-identical replay"
    );
    assert_eq!(
        lookup(&sb, &key).await["balanceAmount"],
        7000,
        "refunded once"
    );

    // While the first request with a key is held by latency, the second gets Toss's 409.
    assert_eq!(
        sb.put_json("/sandbox/faults", json!({"latencyMs": 600}))
            .await
            .0,
        200
    );
    let slow = tokio::spawn(sb.cancel(&key, Some(500), "slow").send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, error) = sb.send(sb.cancel(&key, Some(500), "slow")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("IDEMPOTENT_REQUEST_PROCESSING"))
    );
    let slow = slow.await.expect("joined").expect("sent");
    assert_eq!(slow.status(), 200);
    assert_eq!(lookup(&sb, &key).await["balanceAmount"], 6500);
}

#[tokio::test]
async fn unpaid_unknown_and_malformed_cancels_are_refused_in_tosss_format() {
    let sb = start().await;
    let (order, key) = sb.approved(3000).await;
    let (status, _, error) = sb.send(sb.cancel(&key, None, "r")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("NOT_CANCELABLE_PAYMENT")),
        "a READY payment has nothing to refund"
    );
    // An ABORTED payment neither.
    let declined = sb
        .confirm(&key, &order, 3000)
        .header("TossPayments-Test-Code", "REJECT_CARD_PAYMENT");
    assert_eq!(sb.send(declined).await.0, 403);
    let (status, _, error) = sb.send(sb.cancel(&key, None, "r2")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("NOT_CANCELABLE_PAYMENT"))
    );

    let (status, _, error) = sb.send(sb.cancel("tgen_nope", None, "n")).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND_PAYMENT"))
    );

    let (_, paid) = sb.paid(3000).await;
    for bad in [
        json!({}),
        json!({"cancelReason": ""}),
        json!({"cancelReason": "   "}),
        json!({"cancelReason": "x".repeat(201)}),
        json!({"cancelReason": "r", "cancelAmount": 0}),
        json!({"cancelReason": "r", "cancelAmount": -5}),
        json!({"cancelReason": "r", "cancelAmount": 10.5}),
        json!({"cancelReason": 42}),
    ] {
        let (status, content_type, error) = sb.send(sb.cancel_body(&paid, &bad)).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{bad}: {error}"
        );
        assert!(content_type.starts_with("application/json"));
    }
    let unauthenticated = sb
        .client
        .post(sb.url(&format!("/v1/payments/{paid}/cancel")))
        .json(&json!({"cancelReason": "r"}));
    let (status, _, error) = sb.send(unauthenticated).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("UNAUTHORIZED_KEY"))
    );
    assert_eq!(
        lookup(&sb, &paid).await["status"],
        "DONE",
        "nothing refunded"
    );
}

#[tokio::test]
async fn an_unreadable_idempotency_key_is_refused_in_tosss_format_and_refunds_nothing() {
    let sb = start().await;
    let (_, paid) = sb.paid(3000).await;
    let value = |bytes: &[u8]| reqwest::header::HeaderValue::from_bytes(bytes).expect("a value");
    // A key the handler could not read would run as a cancel without a key: a retry would
    // refund twice. The refusal speaks Toss's format, as every other sandbox error does.
    for keys in [
        vec![value("취소-1".as_bytes())],
        vec![value(b"k-1"), value(b"k-2")],
    ] {
        let mut request = sb.cancel_body(&paid, &json!({"cancelReason": "r"}));
        for key in &keys {
            request = request.header("Idempotency-Key", key.clone());
        }
        let (status, content_type, error) = sb.send(request).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{keys:?}: {error}"
        );
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert!(error["message"].is_string(), "{error}");
    }
    let after = lookup(&sb, &paid).await;
    assert_eq!(
        (after["status"].as_str(), after["balanceAmount"].as_i64()),
        (Some("DONE"), Some(3000))
    );
    sb.stop().await;
}
