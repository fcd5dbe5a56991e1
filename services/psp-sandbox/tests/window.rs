//! The payment window and its JSON twin: rendering, approve/decline redirects, validation.

mod common;

use common::{order_id, start, Sandbox};
use serde_json::json;
use url::Url;

fn window_url(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{base}/sandbox/window")).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

fn form(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// POSTs the window's form to `path`; the `Location` of its 303 answer.
async fn redirect(sb: &Sandbox, path: &str, params: &[(&str, &str)]) -> String {
    let resp = sb
        .client
        .post(sb.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(params))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 303);
    resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string()
}

fn query(location: &str) -> Vec<(String, String)> {
    Url::parse(location)
        .expect("absolute Location")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_window_shows_the_order_with_approve_and_decline() {
    let sb = start().await;
    let order = order_id();
    let url = window_url(
        &sb.base,
        &[
            ("orderId", &order),
            ("amount", "15000"),
            ("orderName", "<b>상품A</b> 외 2건"),
            ("successUrl", "http://shop.test/success"),
            ("failUrl", "http://shop.test/fail"),
        ],
    );
    let resp = sb.client.get(url).send().await.expect("sent");
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = resp.text().await.expect("html");
    for needle in [
        r#"id="approve""#,
        r#"id="decline""#,
        "15,000원",
        "&lt;b&gt;상품A&lt;/b&gt; 외 2건",
        &order,
    ] {
        assert!(html.contains(needle), "{needle} missing in {html}");
    }
    assert!(!html.contains("<b>상품A"), "order name is escaped");
}

#[tokio::test]
async fn approve_redirects_to_success_with_a_confirmable_payment_key() {
    let sb = start().await;
    let order = order_id();
    let params = [
        ("orderId", order.as_str()),
        ("amount", "3000"),
        ("orderName", "상품C"),
        ("successUrl", "http://shop.test/success?memberNo=1"),
        ("failUrl", "http://shop.test/fail"),
    ];
    let location = redirect(&sb, "/sandbox/window/approve", &params).await;
    assert!(
        location.starts_with("http://shop.test/success?memberNo=1&"),
        "{location}"
    );
    let pairs = query(&location);
    let key = param(&pairs, "paymentKey").expect("paymentKey").to_string();
    assert!(key.starts_with("tgen_"), "{key}");
    assert_eq!(param(&pairs, "orderId"), Some(order.as_str()));
    assert_eq!(param(&pairs, "amount"), Some("3000"));
    assert_eq!(param(&pairs, "memberNo"), Some("1"));

    let (status, _, paid) = sb.send(sb.confirm(&key, &order, 3000)).await;
    assert_eq!((status, paid["orderName"].as_str()), (200, Some("상품C")));
}

#[tokio::test]
async fn decline_redirects_to_fail_and_creates_nothing() {
    let sb = start().await;
    let order = order_id();
    let location = redirect(
        &sb,
        "/sandbox/window/decline",
        &[("orderId", &order), ("failUrl", "https://shop.test/fail")],
    )
    .await;
    assert!(
        location.starts_with("https://shop.test/fail?"),
        "{location}"
    );
    let pairs = query(&location);
    assert_eq!(param(&pairs, "code"), Some("PAY_PROCESS_CANCELED"));
    assert_eq!(param(&pairs, "orderId"), Some(order.as_str()));
    assert!(param(&pairs, "message").is_some_and(|m| !m.is_empty()));
    assert_eq!(sb.payment_by_order(&order).await.0, 404);
}

#[tokio::test]
async fn bad_window_input_is_a_problem() {
    let sb = start().await;
    let order = order_id();
    for (field, params) in [
        (
            "successUrl",
            [
                ("orderId", order.as_str()),
                ("successUrl", "javascript:alert(1)"),
                ("failUrl", "http://x.test/f"),
            ],
        ),
        (
            "failUrl",
            [
                ("orderId", order.as_str()),
                ("successUrl", "http://x.test/s"),
                ("failUrl", "/relative"),
            ],
        ),
        (
            "orderId",
            [
                ("orderId", "no"),
                ("successUrl", "http://x.test/s"),
                ("failUrl", "http://x.test/f"),
            ],
        ),
    ] {
        let mut all = params.to_vec();
        all.extend([("amount", "1000"), ("orderName", "상품A")]);
        let (status, content_type, problem) =
            sb.send(sb.client.get(window_url(&sb.base, &all))).await;
        assert_eq!(status, 400, "{field}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn approvals_are_idempotent_per_order_and_conflict_on_another_amount() {
    let sb = start().await;
    let (order, key) = sb.approved(1000).await;
    let again = json!({"orderId": order, "amount": 1000, "orderName": "상품A"});
    let (status, _, same) = sb
        .send(sb.client.post(sb.url("/sandbox/approvals")).json(&again))
        .await;
    assert_eq!(
        (status, same["paymentKey"].as_str()),
        (200, Some(key.as_str()))
    );
    let other = json!({"orderId": order, "amount": 2000, "orderName": "상품A"});
    let (status, content_type, problem) = sb
        .send(sb.client.post(sb.url("/sandbox/approvals")).json(&other))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("APPROVAL_AMOUNT_MISMATCH"))
    );
    assert_eq!(content_type, "application/problem+json");
    // An orderId or orderName that is not a JSON string is bad input.
    for bad in [
        json!({"orderId": 12345678, "amount": 1000, "orderName": "상품A"}),
        json!({"orderId": order_id(), "amount": 1000, "orderName": 7}),
    ] {
        let (status, _, problem) = sb
            .send(sb.client.post(sb.url("/sandbox/approvals")).json(&bad))
            .await;
        assert_eq!(status, 400, "{bad}: {problem}");
    }

    // The window answers the same conflict by sending the customer to failUrl.
    let location = redirect(
        &sb,
        "/sandbox/window/approve",
        &[
            ("orderId", &order),
            ("amount", "2000"),
            ("orderName", "상품A"),
            ("successUrl", "http://shop.test/success"),
            ("failUrl", "http://shop.test/fail"),
        ],
    )
    .await;
    assert_eq!(
        param(&query(&location), "code"),
        Some("PAY_PROCESS_ABORTED"),
        "{location}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_operation() {
    let sb = start().await;
    let spec = sb.get_json("/openapi.json").await;
    for (path, method) in [
        ("/v1/payments/confirm", "post"),
        ("/v1/payments/{paymentKey}", "get"),
        ("/v1/payments/orders/{orderId}", "get"),
        ("/v1/payments/{paymentKey}/cancel", "post"),
        ("/v1/transactions", "get"),
        ("/sandbox/window", "get"),
        ("/sandbox/window/approve", "post"),
        ("/sandbox/window/decline", "post"),
        ("/sandbox/approvals", "post"),
        ("/sandbox/faults", "put"),
        ("/sandbox/faults/orders/{orderId}", "put"),
        ("/sandbox/stats", "get"),
        ("/sandbox/stats/orders/{orderId}", "get"),
        ("/sandbox/reset", "post"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path}");
    }
}
