//! Who may do what (docs/identity.md): the whole system in jwt mode with a key of the test's
//! own, and per rule 401 without a token, 403 with someone else's, 2xx with the right one;
//! the admin role on admin endpoints, and 429 with `Retry-After` over the write limit.

use paymsa_e2e::{
    count, eventually,
    http::send,
    money::{approve, parse, Checkout},
    sellers::{register_ok, wait_active, SAGA},
    values::id_of,
    TestSystem,
};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use service_kit::auth_dev::{self, DevKey};

/// Writes per minute and member in this test: a few, so the limit is reached quickly.
const LIMIT: u32 = 4;

struct Jwt {
    system: TestSystem,
    key: DevKey,
}

impl Jwt {
    async fn start() -> Self {
        let (key, mut overrides) = paymsa_e2e::jwt::jwt_mode("identity-test");
        overrides.insert("RATE_LIMIT_WRITES_PER_MIN".into(), LIMIT.to_string());
        // As behind one ingress; a request without `X-Forwarded-For` counts for its peer.
        overrides.insert("TRUSTED_PROXY_HOPS".into(), "1".into());
        Self {
            system: TestSystem::start_with(overrides).await,
            key,
        }
    }

    fn token(&self, claims: &service_kit::auth::Claims) -> String {
        self.key.sign(claims, 600, None, None).expect("signed")
    }

    fn member(&self, n: i64) -> Option<String> {
        Some(self.token(&auth_dev::member(n)))
    }

    fn seller(&self, n: i64) -> Option<String> {
        Some(self.token(&auth_dev::seller(n)))
    }

    fn admin(&self) -> Option<String> {
        Some(self.token(&auth_dev::admin()))
    }

    fn req(
        &self,
        method: Method,
        service: &str,
        path: &str,
        token: &Option<String>,
    ) -> RequestBuilder {
        let req = self
            .system
            .http
            .request(method, format!("{}{path}", self.system.url(service)));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn call(
        &self,
        method: Method,
        service: &str,
        path: &str,
        body: Option<&Value>,
        token: &Option<String>,
    ) -> (u16, Value) {
        let mut req = self.req(method, service, path, token);
        if let Some(body) = body {
            req = req.json(body);
        }
        send(req).await
    }

    /// 401 without a token, 403 with `other`'s, then the right one's answer.
    async fn check(
        &self,
        (method, service, path): (Method, &str, &str),
        body: Option<&Value>,
        other: &Option<String>,
        right: &Option<String>,
    ) -> (u16, Value) {
        let (status, problem) = self.call(method.clone(), service, path, body, &None).await;
        assert_eq!(status, 401, "{method} {path} without a token: {problem}");
        assert_eq!(problem["code"], "UNAUTHORIZED", "{problem}");
        let (status, problem) = self.call(method.clone(), service, path, body, other).await;
        assert_eq!(status, 403, "{method} {path} as someone else: {problem}");
        assert_eq!(problem["code"], "FORBIDDEN", "{problem}");
        self.call(method, service, path, body, right).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_in_jwt_mode() {
    let jwt = Jwt::start().await;
    let (m7, m8) = (jwt.member(7), jwt.member(8));

    // catalog: create only as the body's seller, update only as the stored product's seller.
    let seller = register_ok(&jwt.system, "identity-seller").await;
    wait_active(&jwt.system, seller).await;
    let (own, other) = (jwt.seller(seller), jwt.seller(seller + 1));
    let product = json!({"sellerNo": seller.to_string(), "name": "Widget", "price": "1500"});
    let post = (Method::POST, "catalog-service", "/api/products");
    let (status, body) = jwt.check(post.clone(), Some(&product), &other, &own).await;
    let created = if status == 201 {
        body
    } else {
        eventually(SAGA, "the catalog to accept the seller", || async {
            let (status, body) = jwt
                .call(
                    Method::POST,
                    "catalog-service",
                    "/api/products",
                    Some(&product),
                    &own,
                )
                .await;
            (status == 201).then_some(body)
        })
        .await
    };
    let product_no = id_of(&created["productNo"]);
    let patch = format!("/api/products/{product_no}");
    let (status, body) = jwt
        .check(
            (Method::PATCH, "catalog-service", &patch),
            Some(&json!({"price": "2000"})),
            &other,
            &own,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // order-service: checkout as the body's member; confirm, read and cancel only one's own.
    let checkout = json!({"memberNo": "7", "productNos": [product_no.to_string()]});
    let (status, body) = jwt
        .check(
            (Method::POST, "order-service", "/api/checkouts"),
            Some(&checkout),
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let order: Checkout = parse("checkout", body);
    let payment_key = approve(&jwt.system, &order).await;
    let confirm =
        json!({"paymentKey": payment_key, "orderId": order.order_id, "amount": order.amount});
    let (status, body) = jwt
        .check(
            (Method::POST, "order-service", "/api/payments/confirm"),
            Some(&confirm),
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let payment = format!("/api/payments/{}", order.order_id);
    let (status, body) = jwt
        .check((Method::GET, "order-service", &payment), None, &m8, &m7)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = jwt
        .call(Method::GET, "order-service", &payment, None, &jwt.admin())
        .await;
    assert_eq!(status, 200, "an admin reads any payment");

    // order-query: a member's history only for that member (or an admin).
    let (status, body) = jwt
        .check(
            (Method::GET, "order-query-service", "/api/orders/members/7"),
            None,
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // likes and reviews: only as oneself; a review deleted only by its author.
    let like = format!("/api/catalog-likes/products/{product_no}/members/7");
    let (status, body) = jwt
        .check(
            (Method::POST, "catalog-like-service", &like),
            None,
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = jwt
        .check(
            (Method::DELETE, "catalog-like-service", &like),
            None,
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // reviews: only from a member who bought the product, one live review each. Member 7
    // bought it above; review-service learns that from order.payment.confirmed.
    let reviews_db = jwt.system.db(&catalog_review_service::SPEC).await;
    let bought = format!(
        "select count(*) from review_purchases where member_no = 7 and product_no = {product_no}"
    );
    eventually(
        SAGA,
        "review-service to learn member 7's purchase",
        || async { (count(&reviews_db, &bought).await == 1).then_some(()) },
    )
    .await;
    let review = json!({"productNo": product_no.to_string(), "memberNo": "7", "title": "t",
        "content": "c", "starRatingType": "FIVE"});
    let not_bought = json!({"productNo": product_no.to_string(), "memberNo": "8", "title": "t",
        "content": "c", "starRatingType": "ONE"});
    let (status, body) = jwt
        .call(
            Method::POST,
            "catalog-review-service",
            "/api/product-reviews",
            Some(&not_bought),
            &m8,
        )
        .await;
    assert_eq!(status, 403, "a review without a purchase: {body}");
    assert_eq!(body["code"], "PURCHASE_REQUIRED", "{body}");
    let (status, body) = jwt
        .check(
            (
                Method::POST,
                "catalog-review-service",
                "/api/product-reviews",
            ),
            Some(&review),
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, second) = jwt
        .call(
            Method::POST,
            "catalog-review-service",
            "/api/product-reviews",
            Some(&review),
            &m7,
        )
        .await;
    assert_eq!(
        status, 409,
        "a second live review of one purchase: {second}"
    );
    assert_eq!(second["code"], "REVIEW_EXISTS", "{second}");
    let delete = format!(
        "/api/product-reviews/{}?memberNo=7",
        id_of(&body["productReviewNo"])
    );
    let (status, body) = jwt
        .check(
            (Method::DELETE, "catalog-review-service", &delete),
            None,
            &m8,
            &m7,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // Cancelled after the review: a purchase refunded in full is no purchase to review
    // (services/catalog-review-service/src/refunds.rs).
    let cancel = format!("/api/payments/{}/cancel", order.order_id);
    let (status, body) = jwt
        .check(
            (Method::POST, "order-service", &cancel),
            Some(&json!({"cancelReason": "test"})),
            &m8,
            &m7,
        )
        .await;
    assert!(status == 200 || status == 202, "cancel: {status} {body}");

    // wallet-service: a seller's wallet, entries, statement and payouts only for that seller.
    for path in ["", "/entries", "/statement", "/payouts"] {
        let path = format!("/api/wallets/sellers/{seller}{path}");
        let (status, body) = jwt
            .check((Method::GET, "wallet-service", &path), None, &other, &own)
            .await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }

    // admin endpoints: the admin role, not the static token.
    let admin_path = "/admin/payments/unresolved";
    let (status, body) = jwt
        .check(
            (Method::GET, "order-service", admin_path),
            None,
            &m7,
            &jwt.admin(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = jwt
        .call(
            Method::GET,
            "order-service",
            admin_path,
            None,
            &Some("test-admin-token".into()),
        )
        .await;
    assert_eq!(
        status, 401,
        "the static ADMIN_TOKEN is not accepted in jwt mode"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_over_the_limit_are_429_with_retry_after() {
    let jwt = Jwt::start().await;
    let m50 = jwt.member(50);
    for product in 1..=LIMIT {
        let path = format!("/api/catalog-likes/products/{product}/members/50");
        let (status, body) = jwt
            .call(Method::POST, "catalog-like-service", &path, None, &m50)
            .await;
        assert_eq!(status, 201, "write {product} is within the limit: {body}");
    }
    let resp = jwt
        .req(
            Method::POST,
            "catalog-like-service",
            "/api/catalog-likes/products/99/members/50",
            &m50,
        )
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem: Value = resp.json().await.expect("problem+json");
    assert_eq!(problem["code"], "RATE_LIMITED", "{problem}");
    // Another member has a budget of its own.
    let (status, _) = jwt
        .call(
            Method::POST,
            "catalog-like-service",
            "/api/catalog-likes/products/1/members/51",
            None,
            &jwt.member(51),
        )
        .await;
    assert_eq!(status, 201);

    // A confirm is a write too (each can cost a PSP call): over the limit it is refused.
    let m52 = jwt.member(52);
    let confirm =
        json!({"paymentKey": "tgen_unknown", "orderId": "no-such-order-52", "amount": 1000});
    let path = "/api/payments/confirm";
    for _ in 0..LIMIT {
        let (status, body) = jwt
            .call(Method::POST, "order-service", path, Some(&confirm), &m52)
            .await;
        assert_eq!(status, 404, "within the limit: {body}");
    }
    let (status, body) = jwt
        .call(Method::POST, "order-service", path, Some(&confirm), &m52)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{body}"
    );

    // A cancel is a refund at the PSP: counted before the order is even looked up.
    let m54 = jwt.member(54);
    let cancel = "/api/payments/no-such-order-54/cancel";
    let body = json!({"cancelReason": "test", "cancelAmount": 1});
    for _ in 0..LIMIT {
        let (status, body) = jwt
            .call(Method::POST, "order-service", cancel, Some(&body), &m54)
            .await;
        assert_eq!(status, 404, "within the limit: {body}");
    }
    let (status, body) = jwt
        .call(Method::POST, "order-service", cancel, Some(&body), &m54)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{body}"
    );

    // A payout is a transfer at the PSP: a seller's attempts are counted too.
    let s55 = jwt.seller(55);
    let payouts = "/api/wallets/sellers/55/payouts";
    let body = json!({"amount": 1});
    for _ in 0..LIMIT {
        let (status, body) = jwt
            .call(Method::POST, "wallet-service", payouts, Some(&body), &s55)
            .await;
        assert_ne!(status, 429, "within the limit: {body}");
    }
    let (status, body) = jwt
        .call(Method::POST, "wallet-service", payouts, Some(&body), &s55)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{body}"
    );

    // So is the storefront's success redirect, which confirms as well; without a session it
    // is counted for the visitor's address.
    let success = "/success?paymentKey=tgen_unknown&orderId=no-such-order-53&amount=1000";
    let page = || async {
        jwt.req(Method::GET, "order-service", success, &None)
            .send()
            .await
            .expect("answered")
            .text()
            .await
            .expect("a page")
    };
    for _ in 0..LIMIT {
        let page = page().await;
        assert!(
            page.contains("FAILED") && !page.contains("RATE_LIMITED"),
            "within the limit: {page}"
        );
    }
    let page = page().await;
    assert!(
        page.contains(r#"<p id="code">RATE_LIMITED</p>"#) && !page.contains("FAILED"),
        "over the limit the payment is not called failed: {page}"
    );

    // A seller's registration needs no token (docs/identity.md), but is a write: three rows
    // and three events. Until stop 24 it was not counted, and anyone could register without
    // end. It is counted per client address (seller-service's own budget).
    let s56 = None;
    for n in 0..LIMIT {
        let body = json!({"sellerId": format!("limited-{n}")});
        let (status, body) = jwt
            .call(
                Method::POST,
                "seller-service",
                "/api/sellers",
                Some(&body),
                &s56,
            )
            .await;
        assert_eq!(status, 201, "within the limit: {body}");
    }
    let body = json!({"sellerId": "limited-over"});
    let (status, body) = jwt
        .call(
            Method::POST,
            "seller-service",
            "/api/sellers",
            Some(&body),
            &s56,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{body}"
    );

    // Behind the trusted proxy, the client it names has a budget of its own; what the client
    // wrote itself (left of the proxy's entry) does not buy another one.
    let register = |id: String, forwarded: String| {
        jwt.req(Method::POST, "seller-service", "/api/sellers", &None)
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "sellerId": id }))
            .send()
    };
    for n in 0..LIMIT {
        let resp = register(format!("proxied-{n}"), format!("10.9.9.{n}, 203.0.113.9"))
            .await
            .expect("answered");
        assert_eq!(resp.status(), 201, "the proxied client's own budget");
    }
    let resp = register("proxied-over".into(), "10.9.9.99, 203.0.113.9".into())
        .await
        .expect("answered");
    assert_eq!(
        resp.status(),
        429,
        "a forged left entry is not a new client"
    );
}
