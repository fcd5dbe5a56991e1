//! Reviews that need a purchase (`REVIEW_REQUIRES_PURCHASE`) and refunds
//! (services/catalog-review-service/src/refunds.rs): a line refunded in full takes the purchase
//! of its product back, and the member's review of it is withdrawn, counted out and announced
//! as deleted; a partial refund, or another line of the order, keeps its review; buying the
//! product again allows a review again. Purchases are recorded a group at a time, and a
//! cancel may arrive before its order.

use std::time::Duration;

use events::{topology::REVIEWS, CanceledLine, Envelope, PaymentCanceled, PaymentConfirmed};
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
    // Once both cancels are applied, the other reviews are still there.
    let db = system.db(&catalog_review_service::SPEC).await;
    eventually(WAIT, "both cancels applied", || async {
        (refunds_applied(&db).await == 2).then_some(())
    })
    .await;
    db.close().await;
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
/// batches (purchases.rs), of two orders of one product the first is the purchase kept; a full
/// cancel that arrives before its order leaves that order's purchase refunded from the start;
/// two halves refund a line in full, a re-emitted cancel counted once; and a purchase recorded
/// before purchases had lines holds while another order of its product is refunded.
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
    bus.publish(&Envelope::new(refund(&cancelled, 9001, 1000)))
        .await;
    let db = system.db(&catalog_review_service::SPEC).await;
    eventually(WAIT, "the early cancel applied", || async {
        (refunds_applied(&db).await == 1).then_some(())
    })
    .await;
    orders.push(cancelled);
    // Order 14 of product 140, refunded in two halves; the second cancel comes twice, the
    // second time under another event id (a producer re-emitting it).
    let halves = hot_ranking::payment(14, &[140], now);
    orders.push(halves.clone());
    // Order 13 of product 130, cancelled in full, while a purchase of 130 recorded before
    // purchases had lines (order "legacy-130", inserted below) still holds.
    let legacy = hot_ranking::payment(13, &[130], now);
    orders.push(legacy.clone());
    sqlx::query(
        "insert into review_purchases (member_no, product_no, order_id, purchased_at, lines_unknown)
         values (1, 130, 'legacy-130', now(), true)",
    )
    .execute(&db)
    .await
    .expect("a purchase from before its lines were recorded");
    for order in &orders {
        bus.publish(&Envelope::new(order.clone())).await;
    }
    bus.publish(&Envelope::new(refund(&legacy, 9004, 1000)))
        .await;
    bus.publish(&Envelope::new(refund(&halves, 9002, 500)))
        .await;
    let second_half = Envelope::new(refund(&halves, 9003, 500));
    bus.publish(&second_half).await;
    bus.publish(&Envelope::new(second_half.payload.clone()))
        .await;

    let (rows, transactions): (i64, i64) = eventually(WAIT, "purchases recorded", || async {
        let row: (i64, i64) = sqlx::query_as(
            "select count(*), count(distinct xmin::text) from review_purchases where member_no = 1",
        )
        .fetch_one(&db)
        .await
        .expect("purchases");
        // 101..=110, 120, 130 (order 13 adds nothing to the older purchase), 140.
        (row.0 == 13).then_some(row)
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
    eventually(WAIT, "the five cancels applied", || async {
        (refunds_applied(&db).await == 5).then_some(())
    })
    .await;
    let refunded: Decimal =
        sqlx::query_scalar("select refunded from review_purchase_lines where product_no = 140")
            .fetch_one(&db)
            .await
            .expect("product 140's line");
    assert_eq!(
        refunded,
        Decimal::from(1000),
        "the re-emitted half counted once"
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
    let answer = post(&system, review(140)).await;
    assert_eq!(
        answer.status, 403,
        "two halves refund the line: {}",
        answer.body
    );
    let answer = post(&system, review(130)).await;
    assert_eq!(
        answer.status, 201,
        "the older purchase holds: {}",
        answer.body
    );
    let answer = post(&system, review(110)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    system.stop().await;
}

/// The race a review of stop 28 found, made to happen: a review whose purchase check waits for
/// the lock of a refund in progress must read the lines that refund commits. The test holds
/// the purchase's lock itself, as refunds.rs does between refunding the line and withdrawing
/// the reviews, with the line refunded in full but not committed; the review waits for that
/// lock, and the commit is made only once Postgres shows it waiting. A purchase check that read
/// the lines in the statement that waited (its snapshot taken before the commit) lets the
/// review in on a purchase already taken back, after the refund looked for reviews to withdraw.
#[tokio::test]
async fn a_review_waiting_for_a_refund_in_progress_sees_it() {
    let system = TestSystem::builder()
        .only(["catalog-review-service"])
        .overrides([("REVIEW_REQUIRES_PURCHASE", "true")])
        .start()
        .await;
    let bus = Bus::connect(&system).await;
    let order = hot_ranking::payment(15, &[150], chrono::Utc::now());
    bus.publish(&Envelope::new(order)).await;
    let db = system.db(&catalog_review_service::SPEC).await;
    eventually(WAIT, "the purchase recorded", || async {
        let lines: i64 = sqlx::query_scalar(
            "select count(*) from review_purchase_lines where member_no = 1 and product_no = 150",
        )
        .fetch_one(&db)
        .await
        .expect("lines");
        (lines == 1).then_some(())
    })
    .await;

    let mut refund = db.begin().await.expect("the refund's transaction");
    sqlx::query(
        "update review_purchase_lines set refunded = line_amount
          where member_no = 1 and product_no = 150",
    )
    .execute(&mut *refund)
    .await
    .expect("the line refunded in full");
    sqlx::query(
        "select 1 from review_purchases where member_no = 1 and product_no = 150 for update",
    )
    .execute(&mut *refund)
    .await
    .expect("the purchase locked");
    let body = json!({"productNo": "150", "memberNo": "1", "title": "t", "content": "c",
        "starRatingType": "FIVE"});
    let committed_once_waited_on = async {
        // The review waits for the purchase's lock.
        paymsa_e2e::lock_waiters(&db, "review_purchases", 1).await;
        refund.commit().await.expect("the refund committed");
    };
    let (answer, ()) = tokio::join!(post(&system, body), committed_once_waited_on);
    assert_eq!(
        answer.status, 403,
        "a purchase refunded while the review waited: {}",
        answer.body
    );
    assert_eq!(answer.body["code"], "PURCHASE_REQUIRED", "{}", answer.body);
    let live: i64 = sqlx::query_scalar(
        "select count(*) from product_reviews
          where member_no = 1 and product_no = 150 and deleted_at is null",
    )
    .fetch_one(&db)
    .await
    .expect("reviews");
    assert_eq!(live, 0, "no review of a purchase taken back");
    db.close().await;
    system.stop().await;
}

/// Cancels the refunds consumer has applied.
async fn refunds_applied(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from processed_events where consumer = 'review-refunds'")
        .fetch_one(db)
        .await
        .expect("claims")
}

/// A cancel of `amount` of the order's first line, as order-service announces it.
fn refund(order: &PaymentConfirmed, cancel_no: i64, amount: i64) -> PaymentCanceled {
    let line = &order.lines[0];
    PaymentCanceled {
        payment_event_no: order.payment_event_no,
        member_no: order.member_no,
        order_id: order.order_id.clone(),
        cancel_no,
        cancel_reason: "환불".into(),
        cancel_amount: Decimal::from(amount),
        refunded_total: Decimal::from(amount),
        balance_amount: line.amount - Decimal::from(amount),
        total_amount: order.total_amount,
        canceled_at: chrono::Utc::now(),
        status: "PARTIAL_CANCELED".into(),
        lines: vec![CanceledLine {
            payment_order_no: line.payment_order_no,
            product_no: line.product_no,
            seller_no: line.seller_no,
            amount: Decimal::from(amount),
            line_amount: line.amount,
        }],
    }
}
