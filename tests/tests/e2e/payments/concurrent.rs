//! Confirms of one order racing each other. order-service reads the order and its lines in one
//! statement that waits for the order's row lock (services/order-service/src/store/orders.rs):
//! a confirm that waited must decide on what the one before it committed, or it starts a
//! second attempt at the PSP and fences the first one out.

use super::*;

/// Ten confirms of one order at once, with its key (a double click, a retrying client): one
/// attempt reaches the PSP; every other answer is that attempt's SUCCESS or 409
/// PAYMENT_IN_PROGRESS, and each line's history shows the one attempt.
#[tokio::test]
async fn ten_confirms_of_one_order_at_once_make_one_attempt() {
    let system = start(&[]).await;
    let order = new_order(&system, &[1, 2]).await;
    let key = approve(&system, &order).await;

    let answers =
        futures::future::join_all((0..10).map(|_| confirm_order(&system, &key, &order))).await;
    let mut succeeded = 0;
    for (status, body) in &answers {
        match status {
            200 => {
                assert_eq!(body["status"], "SUCCESS", "{body}");
                succeeded += 1;
            }
            409 => assert_eq!(body["code"], "PAYMENT_IN_PROGRESS", "{body}"),
            other => panic!("confirm answered {other}: {body}"),
        }
    }
    assert!(succeeded >= 1, "{answers:?}");
    assert_eq!(psp_stats(&system, &order.order_id).await, (1, true));
    let details = payment(&system, &order.order_id).await;
    assert_eq!(details["status"], "SUCCESS", "{details}");
    paid_by_one_confirm(&details);
    system.stop().await;
}
