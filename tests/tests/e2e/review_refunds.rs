//! Reviews that need a purchase (`REVIEW_REQUIRES_PURCHASE`) and refunds
//! (services/catalog-review-service/src/refunds.rs): a line refunded in full takes the purchase
//! of its product back, and the member's review of it is withdrawn, counted out and announced
//! as deleted; a partial refund, or another line of the order, keeps its review; buying the
//! product again allows a review again.

use std::time::Duration;

use events::topology::REVIEWS;
use paymsa_e2e::{
    eventually,
    money::{cancel, new_order, pay, payment},
    reviews::{post, product_reviews, summary},
    seed::start_seeded,
    streams::Bus,
    TestSystem,
};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

fn review_of(product: i64) -> Value {
    json!({"productNo": product.to_string(), "memberNo": "7", "title": "t", "content": "c",
        "starRatingType": "FOUR"})
}

/// Posts member 7's review of `product` until review-service knows of the purchase (201).
async fn review_once_bought(system: &TestSystem, product: i64) -> Value {
    eventually(WAIT, "the purchase reaches review-service", || async {
        let answer = post(system, review_of(product)).await;
        (answer.status == 201).then_some(answer.body)
    })
    .await
}

/// `paymentOrderNo` of the order's line of `product`.
async fn line_of(system: &TestSystem, order_id: &str, product: i64) -> Value {
    let details = payment(system, order_id).await;
    details["lines"]
        .as_array()
        .and_then(|lines| {
            lines
                .iter()
                .find(|l| l["productNo"] == json!(product.to_string()))
        })
        .unwrap_or_else(|| panic!("line of product {product}: {details}"))["paymentOrderNo"]
        .clone()
}

#[tokio::test]
async fn a_purchase_refunded_in_full_withdraws_its_review() {
    let system = start_seeded(&[("REVIEW_REQUIRES_PURCHASE", "true")]).await;
    let both = new_order(&system, &[1, 2]).await; // 1,000 + 2,000
    pay(&system, &both).await;
    let third = new_order(&system, &[3]).await; // 3,000
    pay(&system, &third).await;
    for product in [1, 2, 3] {
        review_once_bought(&system, product).await;
    }

    // Product 1's line in full; 500 of product 3's line.
    let line_1 = line_of(&system, &both.order_id, 1).await;
    let (status, body) = cancel(
        &system,
        &both.order_id,
        json!({"cancelReason": "품절", "paymentOrderNos": [line_1]}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let line_3 = line_of(&system, &third.order_id, 3).await;
    let (status, body) = cancel(
        &system,
        &third.order_id,
        json!({"cancelReason": "부분 환불", "cancelAmount": 500, "paymentOrderNos": [line_3]}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    eventually(WAIT, "product 1's review withdrawn", || async {
        let listing = product_reviews(&system, "1", "").await;
        (summary(&listing).0 == json!(0)).then_some(())
    })
    .await;
    let answer = post(&system, review_of(1)).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["code"], "PURCHASE_REQUIRED", "{}", answer.body);
    // Both cancels were applied (the partial one after the full one, in stream order) and
    // kept the other reviews.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for product in ["2", "3"] {
        let listing = product_reviews(&system, product, "").await;
        assert_eq!(
            summary(&listing).0,
            json!(1),
            "product {product}: {listing}"
        );
    }
    let bus = Bus::connect(&system).await;
    let deleted = bus.envelopes(&REVIEWS, "review.product.deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["payload"]["productNo"], "1", "{deleted:?}");

    // Bought again: a review again.
    let again = new_order(&system, &[1]).await;
    pay(&system, &again).await;
    review_once_bought(&system, 1).await;
    let listing = product_reviews(&system, "1", "").await;
    assert_eq!(summary(&listing).0, json!(1), "{listing}");
    system.stop().await;
}
