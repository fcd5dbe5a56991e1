//! Bad input on the money path: tampered amounts and keys, unknown orders, repeated confirms,
//! checkout validation and idempotency keys. Each changes nothing, and says why.

use super::*;

/// 2. A tampered amount is refused before the PSP hears of it; an unknown order is 404; a
/// second confirm of a paid order answers the same outcome without charging or settling again.
#[tokio::test]
async fn tampering_unknown_orders_and_repeated_confirms_change_nothing() {
    let system = start(&[]).await;
    let order = new_order(&system, &[1, 2]).await;
    let key = approve(&system, &order).await;

    let tampered = order.amount - krw(1);
    let (status, body) = confirm(&system, &key, &order.order_id, json!(tampered.to_string())).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "ORDER_AMOUNT_MISMATCH");
    assert_eq!(psp_stats(&system, &order.order_id).await, (0, false));
    let details = payment(&system, &order.order_id).await;
    assert_eq!(details["status"], "NOT_STARTED", "{details}");

    // A paymentKey or orderId that is not a JSON string is bad input, not something to look up.
    for body in [
        json!({"paymentKey": 42, "orderId": order.order_id, "amount": order.amount}),
        json!({"paymentKey": key, "orderId": 7, "amount": order.amount}),
        // Outside Toss's alphabet: a control character cannot even go into the PSP call's
        // header, and before stop 21 it left the order UNKNOWN with this key bound to it.
        json!({"paymentKey": "x\u{1}", "orderId": order.order_id, "amount": order.amount}),
        json!({"paymentKey": "tgen_1 2", "orderId": order.order_id, "amount": order.amount}),
    ] {
        let (status, problem) = confirm_body(&system, body).await;
        assert_eq!(status, 400, "{problem}");
    }
    // The storefront's success redirect takes the same checks.
    let (status, page) = send(system.http.get(format!(
        "{}/success?paymentKey=x%01&orderId={}&amount={}",
        system.url("order-service"),
        order.order_id,
        order.amount
    )))
    .await;
    assert_eq!(status, 200, "the page shows the refusal");
    assert!(page.to_string().contains("INVALID_REQUEST"), "{page}");
    assert_eq!(psp_stats(&system, &order.order_id).await, (0, false));
    let details = payment(&system, &order.order_id).await;
    assert_eq!(details["status"], "NOT_STARTED", "nothing bound: {details}");

    let (status, body) = confirm(&system, &key, "no-such-order-123", order.amount).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "ORDER_NOT_FOUND");
    let (status, _) = send(system.http.get(format!(
        "{}/api/payments/no-such-order-123",
        system.url("order-service")
    )))
    .await;
    assert_eq!(status, 404);

    let (status, body) = confirm_order(&system, &key, &order).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("SUCCESS")),
        "{body}"
    );
    eventually(WAIT, "isWalletDone", || async {
        (payment(&system, &order.order_id).await["isWalletDone"] == true).then_some(())
    })
    .await;
    assert_eq!(balance(&system, SELLER).await, krw(3000));

    let (status, again) = confirm_order(&system, &key, &order).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["status"], "SUCCESS");
    assert_eq!(again["orderId"], body["orderId"]);
    assert_eq!(again["amount"], body["amount"]);
    // Another paymentKey for a paid order is a conflict, not a second payment.
    let (status, other) = confirm(&system, "not-the-key", &order.order_id, order.amount).await;
    assert_eq!(status, 409, "{other}");

    // Another order confirmed with this order's paymentKey is refused before the PSP, and
    // that order stays payable with its own key.
    let other_order = new_order(&system, &[3]).await;
    let other_key = approve(&system, &other_order).await;
    let (status, stolen) = confirm(&system, &key, &other_order.order_id, other_order.amount).await;
    assert_eq!(status, 409, "{stolen}");
    assert_eq!(stolen["code"], "PAYMENT_KEY_IN_USE");
    assert_eq!(psp_stats(&system, &other_order.order_id).await, (0, false));
    assert_eq!(
        payment(&system, &other_order.order_id).await["status"],
        "NOT_STARTED"
    );
    let (status, own) = confirm(
        &system,
        &other_key,
        &other_order.order_id,
        other_order.amount,
    )
    .await;
    assert_eq!(
        (status, own["status"].as_str()),
        (200, Some("SUCCESS")),
        "{own}"
    );

    settlement_idle(&system).await;
    assert_eq!(psp_stats(&system, &order.order_id).await, (1, true));
    let events = order_events(&system, &order.order_id).await;
    assert_eq!(
        events.get("order.payment.confirmed"),
        Some(&1),
        "{events:?}"
    );
    assert_eq!(ledger_rows(&system, &order.order_id).await, (2, 2));
    let (_, w) = wallet(&system, SELLER).await;
    assert_eq!(dec(&w["balance"]), krw(3000 + 3000), "{w}");
    // At most one balance change per paid order: sales reach wallets.balance when folded, maybe several at once (docs/ledger.md).
    assert!(w["version"].as_i64().is_some_and(|v| v <= 2), "{w}");
    system.stop().await;
}

/// 6. Checkout: the same Idempotency-Key and body answer the stored order (one order); another
/// body with that key is 422; unknown products are 422 naming them; an empty list or an
/// unknown field is 400 — and none of the refused requests creates an order.
#[tokio::test]
async fn checkout_validates_and_honours_idempotency_keys() {
    let system = start(&[]).await;
    let orders_of_member = || async {
        let pool = system.db(&order_service::SPEC).await;
        let n: i64 = sqlx::query_scalar("select count(*) from payment_events where member_no = 7")
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        n
    };

    let (status, first) = checkout(&system, &[1, 2], Some("key-1")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(dec(&first["amount"]), krw(3000));
    assert_eq!(first["orderName"], "상품A 외 1건");
    let (status, second) = checkout(&system, &[1, 2], Some("key-1")).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second, first, "the stored answer is replayed");
    assert_eq!(orders_of_member().await, 1);

    let (status, reused) = checkout(&system, &[1, 3], Some("key-1")).await;
    assert_eq!(status, 422, "{reused}");
    assert_eq!(reused["code"], "IDEMPOTENCY_KEY_REUSED");

    let (status, unknown) = checkout(&system, &[1, 999], None).await;
    assert_eq!(status, 422, "{unknown}");
    assert_eq!(unknown["code"], "UNKNOWN_PRODUCTS");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("999"),
        "{unknown}"
    );
    // A refused attempt frees its key: the client may fix the body and retry with it.
    let (status, _) = checkout(&system, &[999], Some("key-2")).await;
    assert_eq!(status, 422);
    let (status, fixed) = checkout(&system, &[3], Some("key-2")).await;
    assert_eq!(status, 201, "{fixed}");
    assert_ne!(fixed["orderId"], first["orderId"]);

    let (status, empty) = checkout(&system, &[], None).await;
    assert_eq!(status, 400, "{empty}");
    let (status, extra) = checkout_body(
        &system,
        json!({"memberNo": "7", "productNos": ["1"], "amount": 1}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{extra}");
    assert!(extra["code"].is_string(), "a problem with a code: {extra}");
    // A different key is a different checkout.
    let (status, other) = checkout(&system, &[1, 2], Some("key-3")).await;
    assert_eq!(status, 201);
    assert_ne!(other["orderId"], first["orderId"]);

    // A product listed twice is bought twice: two lines, twice the price.
    let (status, twice) = checkout(&system, &[1, 1, 2], None).await;
    assert_eq!(status, 201, "{twice}");
    assert_eq!(dec(&twice["amount"]), krw(4000));
    let details = payment(&system, twice["orderId"].as_str().expect("orderId")).await;
    assert_eq!(lines(&details).len(), 3, "{details}");

    assert_eq!(orders_of_member().await, 4);
    system.stop().await;
}
