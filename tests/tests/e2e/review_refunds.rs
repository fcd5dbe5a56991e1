//! Reviews that need a purchase (`REVIEW_REQUIRES_PURCHASE`) and refunds
//! (services/catalog-review-service/src/refunds.rs): a line refunded in full takes the purchase
//! of its product back, and the member's review of it is withdrawn, counted out and announced
//! as deleted; a partial refund, or another line of the order, keeps its review; buying the
//! product again allows a review again. Purchases are recorded a group at a time, and a
//! cancel may arrive before its order.

use std::time::Duration;

use events::{topology::REVIEWS, CanceledLine, Envelope, PaymentCanceled};
use paymsa_e2e::{
    eventually, hot_ranking,
    money::{cancel, new_order, pay, payment},
    reviews::{post, product_reviews, summary},
    seed::start_seeded,
    streams::Bus,
    TestSystem,
};
use rust_decimal::Decimal;
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

/// Straight onto the bus, with review-service alone: a burst of paid orders is recorded in
/// batches (purchases.rs), of two orders of one product the first is the purchase kept, and a
/// full cancel that arrives before its order leaves that order's purchase refunded from the
/// start.
#[tokio::test]
async fn purchases_are_recorded_in_batches_and_a_cancel_may_come_first() {
    // Groups wait up to 200 ms to fill, so the burst is batched on a loaded runner too.
    let system = TestSystem::builder()
        .only(["catalog-review-service"])
        .overrides([
            ("REVIEW_REQUIRES_PURCHASE", "true"),
            ("GROUP_COMMIT_LINGER_MS", "200"),
        ])
        .start()
        .await;
    let bus = Bus::connect(&system).await;
    let now = chrono::Utc::now();
    // Member 1 (hot_ranking::payment's), products 101..=110, and 101 once more in order 11.
    let mut orders: Vec<_> = (1..=10)
        .map(|no| hot_ranking::payment(no, &[100 + no], now))
        .collect();
    orders.push(hot_ranking::payment(11, &[101], now));
    // Order 12 of product 120, cancelled in full before its confirmed event is published.
    let cancelled = hot_ranking::payment(12, &[120], now);
    let line = &cancelled.lines[0];
    bus.publish(&Envelope::new(PaymentCanceled {
        payment_event_no: cancelled.payment_event_no,
        member_no: cancelled.member_no,
        order_id: cancelled.order_id.clone(),
        cancel_no: 9001,
        cancel_reason: "품절".into(),
        cancel_amount: line.amount,
        refunded_total: line.amount,
        balance_amount: Decimal::ZERO,
        total_amount: cancelled.total_amount,
        canceled_at: now,
        status: "CANCELED".into(),
        lines: vec![CanceledLine {
            payment_order_no: line.payment_order_no,
            product_no: line.product_no,
            seller_no: line.seller_no,
            amount: line.amount,
            line_amount: line.amount,
        }],
    }))
    .await;
    orders.push(cancelled);
    for order in &orders {
        bus.publish(&Envelope::new(order.clone())).await;
    }

    let db = system.db(&catalog_review_service::SPEC).await;
    let (rows, transactions): (i64, i64) = eventually(WAIT, "purchases recorded", || async {
        let row: (i64, i64) = sqlx::query_as(
            "select count(*), count(distinct xmin::text) from review_purchases where member_no = 1",
        )
        .fetch_one(&db)
        .await
        .expect("purchases");
        (row.0 == 11).then_some(row)
    })
    .await;
    assert!(
        transactions < rows,
        "the burst was recorded in batches: {transactions} transactions for {rows} purchases"
    );
    let kept: String =
        sqlx::query_scalar("select order_id from review_purchases where product_no = 101")
            .fetch_one(&db)
            .await
            .expect("product 101's purchase");
    assert_eq!(
        kept, "order-1",
        "the first order of the product is the purchase"
    );
    db.close().await;

    let review = |product: i64| {
        json!({"productNo": product.to_string(), "memberNo": "1", "title": "t", "content": "c",
            "starRatingType": "FIVE"})
    };
    let answer = post(&system, review(120)).await;
    assert_eq!(
        answer.status, 403,
        "refunded before it was recorded: {}",
        answer.body
    );
    let answer = post(&system, review(110)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    system.stop().await;
}
