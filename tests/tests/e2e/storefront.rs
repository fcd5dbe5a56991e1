//! The storefront's HTTP contract without a browser (the browser walks it in
//! browser_checkout.rs): a GET of any page creates no order — only `POST /checkout` does, as
//! the session's member — and in jwt mode the pages act as the pasted token: checkout, "my
//! orders", the seller's wallet and cancel follow docs/identity.md.

use paymsa_e2e::{
    count, eventually,
    money::{approve, new_order, psp_payment},
    pages::{call, client, element},
    seed, TestSystem,
};
use service_kit::auth_dev;

async fn orders(system: &TestSystem) -> i64 {
    let db = system.db(&order_service::SPEC).await;
    let n = count(&db, "select count(*) from payment_events").await;
    db.close().await;
    n
}

#[tokio::test]
async fn a_get_never_creates_an_order_only_the_checkout_post_does() {
    let system = seed::start_seeded(&[]).await;
    let shop = system.url("order-service");
    let http = client();
    let member = "paymsa_session=m=7; paymsa_cart=1.2.2";
    // The old checkout page's query among them: it created an order per GET.
    for path in [
        "/",
        "/?productNoList=1,2,3&memberNo=1",
        "/products/1",
        "/cart",
        "/orders",
        "/seller",
        "/login",
    ] {
        let (status, body, _) = call(
            &http,
            reqwest::Method::GET,
            &format!("{shop}{path}"),
            member,
            &[],
        )
        .await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }
    let (status, _, _) = call(
        &http,
        reqwest::Method::GET,
        &format!("{shop}/checkout"),
        member,
        &[],
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "GET /checkout is not an operation: {status}"
    );
    assert_eq!(orders(&system).await, 0, "no GET created an order");

    // The main page lists the catalog; the cart prices the cookie's products.
    let (_, main, _) = call(&http, reqwest::Method::GET, &format!("{shop}/"), "", &[]).await;
    assert!(
        main.contains("id=\"catalog\"") && main.contains("상품C"),
        "{main}"
    );
    let (_, cart, _) = call(
        &http,
        reqwest::Method::GET,
        &format!("{shop}/cart"),
        member,
        &[],
    )
    .await;
    assert_eq!(
        element(&cart, "cart-total").as_deref(),
        Some("5000"),
        "{cart}"
    );

    // Without a session the checkout refuses; with one it creates one order and empties the cart.
    let post = reqwest::Method::POST;
    let (_, refused, _) = call(
        &http,
        post.clone(),
        &format!("{shop}/checkout"),
        "paymsa_cart=1",
        &[],
    )
    .await;
    assert!(element(&refused, "error").is_some(), "{refused}");
    assert_eq!(orders(&system).await, 0);
    let (status, page, set) = call(
        &http,
        post.clone(),
        &format!("{shop}/checkout"),
        member,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(element(&page, "amount").as_deref(), Some("5000"), "{page}");
    assert!(
        set.contains(&"paymsa_cart=".to_string()),
        "cart emptied: {set:?}"
    );
    let db = system.db(&order_service::SPEC).await;
    let mine = count(
        &db,
        "select count(*) from payment_events where member_no = 7",
    )
    .await;
    assert_eq!((mine, orders(&system).await), (1, 1));
    db.close().await;

    // Login stores the numbers in the session cookie, logout deletes it.
    let form = [("memberNo", "12"), ("sellerNo", "1")];
    let (status, _, set) = call(&http, post.clone(), &format!("{shop}/login"), "", &form).await;
    assert_eq!(status, 303);
    assert_eq!(set, vec!["paymsa_session=m=12&s=1".to_string()]);
    let (_, seller, _) = call(
        &http,
        reqwest::Method::GET,
        &format!("{shop}/seller"),
        &set[0],
        &[],
    )
    .await;
    assert!(
        element(&seller, "balance").is_some(),
        "seller 1's wallet: {seller}"
    );

    // Another site's form cannot sign the visitor in as someone else (login CSRF): a browser
    // says where the post comes from, and such a post stores no session.
    // A sibling subdomain's page (`same-site`) gets the SameSite=Strict session cookie sent
    // along, so it is refused too.
    for (header, value) in [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
    ] {
        // Nor fill, empty or order the visitor's cart (its cookie would replace theirs), nor
        // cancel, like or review as the visitor (until stop 31 those relied on the cookie).
        for (path, body) in [
            ("login", "memberNo=66"),
            ("cart/add", "productNo=1"),
            ("cart/clear", ""),
            ("checkout", ""),
            ("cancel", "orderId=any&idempotencyKey=page-forged"),
            ("products/1/like", ""),
            (
                "products/1/reviews",
                "title=t&content=c&starRatingType=FIVE",
            ),
        ] {
            let forged = http
                .post(format!("{shop}/{path}"))
                .header(header, value)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Cookie", "paymsa_cart=1; paymsa_session=m=7")
                .body(body)
                .send()
                .await
                .expect("answered");
            assert_eq!(forged.status(), 403, "{path} {header}: {value}");
            assert!(
                forged.headers().get("set-cookie").is_none(),
                "{path} {header}"
            );
        }
    }
    let same_site = http
        .post(format!("{shop}/login"))
        .header("Origin", shop.as_str())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("memberNo=66")
        .send()
        .await
        .expect("answered");
    assert_eq!(same_site.status(), 303, "the shop's own form");
    system.stop().await;
}

#[tokio::test]
async fn in_jwt_mode_the_pages_act_as_the_pasted_token() {
    let (key, overrides) = paymsa_e2e::jwt::jwt_mode("storefront-test");
    let system = TestSystem::start_with(overrides).await;
    seed::load(&system, &seed::MONEY_PATH).await;
    let sign = |claims| key.sign(&claims, 600, None, None).expect("signed");
    let (shop, http, post, get) = (
        system.url("order-service"),
        client(),
        reqwest::Method::POST,
        reqwest::Method::GET,
    );

    // Numbers typed in are ignored in jwt mode: without a token nobody is logged in.
    let (_, page, set) = call(
        &http,
        post.clone(),
        &format!("{shop}/login"),
        "",
        &[("memberNo", "7")],
    )
    .await;
    let (_, refused, _) = call(
        &http,
        post.clone(),
        &format!("{shop}/checkout"),
        &format!("{}; paymsa_cart=1", set[0]),
        &[],
    )
    .await;
    assert!(element(&refused, "error").is_some(), "{page} {refused}");
    let (_, bad, _) = call(
        &http,
        post.clone(),
        &format!("{shop}/checkout"),
        "paymsa_session=t=not.a.jwt; paymsa_cart=1",
        &[],
    )
    .await;
    assert!(element(&bad, "error").is_some(), "{bad}");
    assert_eq!(orders(&system).await, 0);

    // Member 7's token: checkout as 7, their orders from order-query.
    let member7 = sign(auth_dev::member(7));
    let (_, _, set) = call(
        &http,
        post.clone(),
        &format!("{shop}/login"),
        "",
        &[("token", &member7)],
    )
    .await;
    let session7 = set[0].clone();
    let (_, page, _) = call(
        &http,
        post.clone(),
        &format!("{shop}/checkout"),
        &format!("{session7}; paymsa_cart=1"),
        &[],
    )
    .await;
    let order_id = element(&page, "order-id").unwrap_or_else(|| panic!("an order: {page}"));
    let db = system.db(&order_service::SPEC).await;
    assert_eq!(
        count(
            &db,
            "select count(*) from payment_events where member_no = 7"
        )
        .await,
        1
    );
    db.close().await;
    let (_, mine, _) = call(
        &http,
        get.clone(),
        &format!("{shop}/orders"),
        &session7,
        &[],
    )
    .await;
    assert!(mine.contains("내 주문 (회원 7)"), "{mine}");

    // Another member may not cancel 7's order; a member token is no seller.
    let member8 = sign(auth_dev::member(8));
    let (_, _, set) = call(
        &http,
        post.clone(),
        &format!("{shop}/login"),
        "",
        &[("token", &member8)],
    )
    .await;
    let form = [("orderId", order_id.as_str())];
    let (_, denied, _) = call(
        &http,
        post.clone(),
        &format!("{shop}/cancel"),
        &set[0],
        &form,
    )
    .await;
    assert_eq!(
        element(&denied, "code").as_deref(),
        Some("FORBIDDEN"),
        "{denied}"
    );
    let (_, no_seller, _) = call(
        &http,
        get.clone(),
        &format!("{shop}/seller"),
        &session7,
        &[],
    )
    .await;
    assert!(element(&no_seller, "error").is_some(), "{no_seller}");

    // Seller 1's token reads seller 1's wallet through the page (wallet-service checks it).
    let seller1 = sign(auth_dev::seller(1));
    let (_, _, set) = call(
        &http,
        post.clone(),
        &format!("{shop}/login"),
        "",
        &[("token", &seller1)],
    )
    .await;
    let wallet = eventually(
        std::time::Duration::from_secs(10),
        "seller 1's wallet page",
        || async {
            let (_, page, _) =
                call(&http, get.clone(), &format!("{shop}/seller"), &set[0], &[]).await;
            element(&page, "balance").map(|_| page)
        },
    )
    .await;
    assert!(wallet.contains("판매자 1"), "{wallet}");
    system.stop().await;
}

/// The value of a page's first hidden cancel key (`class="cancel-key"`) after `from`.
fn cancel_key(html: &str, from: &str) -> Option<String> {
    let rest = &html[html.find(from)?..];
    let rest = &rest[rest.find("class=\"cancel-key\"")?..];
    let value = &rest[rest.find("value=\"")? + 7..];
    Some(value[..value.find('"')?].to_string())
}

/// A cancel form sent twice — a reload of its result, a browser's retry after a slow answer —
/// refunds once: the form carries an idempotency key drawn when it was rendered
/// (services/order-service/src/pages/payment.rs `cancel_form`). The result page's own form
/// has a new key, and cancels again.
#[tokio::test]
async fn a_cancel_form_sent_twice_refunds_once() {
    let system = seed::start_seeded(&[]).await;
    let shop = system.url("order-service");
    let http = client();
    let order = new_order(&system, &[1, 2]).await;
    let key = approve(&system, &order).await;
    let success = format!(
        "{shop}/success?paymentKey={key}&orderId={}&amount={}",
        order.order_id, order.amount
    );
    let (_, paid, _) = call(&http, reqwest::Method::GET, &success, "", &[]).await;
    assert_eq!(
        element(&paid, "outcome").as_deref(),
        Some("SUCCESS"),
        "{paid}"
    );
    let form_key = cancel_key(&paid, "<form").unwrap_or_else(|| panic!("a key: {paid}"));
    let form = [
        ("orderId", order.order_id.as_str()),
        ("cancelAmount", "500"),
        ("idempotencyKey", form_key.as_str()),
    ];
    let cancel = format!("{shop}/cancel");
    let mut pages = Vec::new();
    for _ in 0..2 {
        let (_, page, _) = call(&http, reqwest::Method::POST, &cancel, "", &form).await;
        assert_eq!(
            element(&page, "cancel-status").as_deref(),
            Some("DONE"),
            "{page}"
        );
        assert_eq!(element(&page, "refunded").as_deref(), Some("500"), "{page}");
        pages.push(page);
    }
    let db = system.db(&order_service::SPEC).await;
    let cancels = "select count(*) from payment_cancels";
    assert_eq!(
        count(&db, cancels).await,
        1,
        "one cancel for the form sent twice"
    );
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(1),
        "{at_psp}"
    );

    // The result's form is a new one: it cancels again.
    let again = cancel_key(&pages[1], "<form").expect("the result's form");
    assert_ne!(again, form_key);
    let form = [
        ("orderId", order.order_id.as_str()),
        ("cancelAmount", "500"),
        ("idempotencyKey", again.as_str()),
    ];
    let (_, page, _) = call(&http, reqwest::Method::POST, &cancel, "", &form).await;
    assert_eq!(
        element(&page, "refunded").as_deref(),
        Some("1000"),
        "{page}"
    );
    assert_eq!(count(&db, cancels).await, 2);

    // "My orders" (member 7's, from order-query) has a form of its own: a full cancel, sent
    // twice, refunds what was left once.
    let member = "paymsa_session=m=7";
    let row = format!("id=\"order-{}\"", order.order_id);
    let full = eventually(
        std::time::Duration::from_secs(10),
        "the order's row",
        || async {
            let (_, mine, _) = call(
                &http,
                reqwest::Method::GET,
                &format!("{shop}/orders"),
                member,
                &[],
            )
            .await;
            mine.contains("환불 1000원")
                .then(|| cancel_key(&mine, &row))
                .flatten()
        },
    )
    .await;
    let form = [
        ("orderId", order.order_id.as_str()),
        ("idempotencyKey", full.as_str()),
    ];
    for _ in 0..2 {
        let (_, page, _) = call(&http, reqwest::Method::POST, &cancel, member, &form).await;
        assert_eq!(
            element(&page, "refunded").as_deref(),
            Some("3000"),
            "{page}"
        );
    }
    assert_eq!(count(&db, cancels).await, 3);
    let (_, at_psp) = psp_payment(&system, &order.order_id).await;
    assert_eq!(
        at_psp["cancels"].as_array().map(Vec::len),
        Some(3),
        "{at_psp}"
    );
    db.close().await;
    system.stop().await;
}
