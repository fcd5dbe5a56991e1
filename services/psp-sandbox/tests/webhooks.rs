//! Payment webhooks (PAYMENT_STATUS_CHANGED, CANCEL_STATUS_CHANGED) and delivery: retries
//! until the receiver answers 2xx, deliveries that outlive a restart, run-time receivers and
//! the duplicate fault.

mod common;

use common::{receiver::Receiver, start_with, Sandbox};
use serde_json::{json, Value};

async fn sandbox(receiver: &Receiver, retry: &str) -> Sandbox {
    start_with(&[
        ("SANDBOX_WEBHOOK_URLS", receiver.url.as_str()),
        ("SANDBOX_WEBHOOK_RETRY_MS", retry),
    ])
    .await
}

fn of_order(order: &str) -> impl Fn(&Value) -> bool + '_ {
    move |data: &Value| data["orderId"] == order
}

#[tokio::test]
async fn confirm_and_cancels_send_payment_and_cancel_webhooks() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "100").await;
    let (order, key) = sb.paid(3000).await;
    let done = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 1, 10, of_order(&order))
        .await;
    assert_eq!(done.len(), 1, "{:?}", receiver.received());
    assert_eq!(done[0].json["data"]["status"], "DONE");
    assert_eq!(done[0].json["data"]["paymentKey"], key.as_str());
    assert!(done[0].json["createdAt"].is_string());
    assert!(
        !done[0]
            .headers
            .contains_key("tosspayments-webhook-signature"),
        "payment webhooks are unsigned"
    );

    let (status, _, _) = sb.send(sb.cancel(&key, Some(1000), "c-1")).await;
    assert_eq!(status, 200);
    let cancels = receiver
        .wait_for("CANCEL_STATUS_CHANGED", 1, 10, of_order(&order))
        .await;
    assert_eq!(cancels.len(), 1);
    let data = &cancels[0].json["data"];
    assert_eq!(data["cancelStatus"], "DONE");
    assert_eq!(data["cancelAmount"], 1000);
    assert_eq!(data["paymentKey"], key.as_str());
    assert!(data["transactionKey"].is_string() && data["cancelReason"].is_string());
    let statuses = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 2, 10, of_order(&order))
        .await;
    assert_eq!(statuses[1].json["data"]["status"], "PARTIAL_CANCELED");
    assert_eq!(statuses[1].json["data"]["balanceAmount"], 2000);

    sb.send(sb.cancel(&key, None, "c-2")).await;
    let statuses = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 3, 10, of_order(&order))
        .await;
    assert_eq!(statuses[2].json["data"]["status"], "CANCELED");
    sb.stop().await;
}

#[tokio::test]
async fn a_declined_confirm_sends_aborted() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "100").await;
    let (order, key) = sb.approved(1000).await;
    let declined = sb
        .confirm(&key, &order, 1000)
        .header("TossPayments-Test-Code", "REJECT_CARD_PAYMENT");
    assert_eq!(sb.send(declined).await.0, 403);
    let hooks = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 1, 10, of_order(&order))
        .await;
    assert_eq!(hooks[0].json["data"]["status"], "ABORTED");
    sb.stop().await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_the_receiver_answers_2xx() {
    let receiver = Receiver::start().await;
    receiver.fail_next(2);
    let sb = sandbox(&receiver, "100,200,300").await;
    let (order, _) = sb.paid(1000).await;
    let posts = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 3, 10, of_order(&order))
        .await;
    let answers: Vec<u16> = posts.iter().map(|p| p.status).collect();
    assert_eq!(answers, [500, 500, 200]);
    assert!(
        posts.iter().all(|p| p.body == posts[0].body),
        "the same body each time"
    );
    let deliveries = sb.deliveries().await;
    let delivery = deliveries
        .iter()
        .find(|d| d["body"]["data"]["orderId"] == order.as_str())
        .expect("listed");
    assert_eq!(delivery["status"], "DELIVERED", "{delivery}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["lastStatus"], 200);

    // A receiver that never answers 2xx: given up after the last retry.
    receiver.set_failing(true);
    let (order, _) = sb.paid(1000).await;
    let posts = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 4, 10, of_order(&order))
        .await;
    assert_eq!(posts.len(), 4, "the first attempt and 3 retries");
    // The status is written after the last post's answer: polled, not slept for.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let failed = loop {
        let deliveries = sb.deliveries().await;
        let found = deliveries
            .iter()
            .find(|d| d["body"]["data"]["orderId"] == order.as_str())
            .cloned()
            .expect("listed");
        if found["status"] != "PENDING" || tokio::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        (failed["status"].as_str(), failed["attempts"].as_i64()),
        (Some("FAILED"), Some(4))
    );
    assert_eq!(
        receiver
            .events("PAYMENT_STATUS_CHANGED", of_order(&order))
            .len(),
        4
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_pending_delivery_survives_a_restart() {
    let receiver = Receiver::start().await;
    receiver.set_failing(true);
    let sb = sandbox(&receiver, "500,500,500,500,500,500,500").await;
    let (order, _) = sb.paid(1000).await;
    let first = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 1, 10, of_order(&order))
        .await;
    assert_eq!(first[0].status, 500);
    let sb = sb.restart().await;
    receiver.set_failing(false);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let deliveries = sb.deliveries().await;
        let d = deliveries
            .iter()
            .find(|d| d["body"]["data"]["orderId"] == order.as_str())
            .cloned()
            .unwrap_or_default();
        if d["status"] == "DELIVERED" || tokio::time::Instant::now() > deadline {
            assert_eq!(d["status"], "DELIVERED", "{d}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let posts = receiver.events("PAYMENT_STATUS_CHANGED", of_order(&order));
    assert!(posts.iter().any(|p| p.status == 200), "{posts:?}");
    sb.stop().await;
}

#[tokio::test]
async fn receivers_change_at_run_time_and_duplicates_can_be_injected() {
    let receiver = Receiver::start().await;
    let sb = start_with(&[]).await;
    let (order, _) = sb.paid(1000).await;
    assert!(
        sb.deliveries().await.is_empty(),
        "no receivers, no deliveries"
    );

    let (status, urls) = sb
        .put_json("/sandbox/webhooks", json!({"urls": ["ftp://x"]}))
        .await;
    assert_eq!(status, 400, "{urls}");
    let (status, urls) = sb
        .put_json("/sandbox/webhooks", json!({"urls": [receiver.url]}))
        .await;
    assert_eq!((status, &urls["urls"][0]), (200, &json!(receiver.url)));
    let (status, _) = sb
        .put_json("/sandbox/faults", json!({"webhookDuplicateRate": 1.0}))
        .await;
    assert_eq!(status, 200);
    let (other, _) = sb.paid(1000).await;
    let posts = receiver
        .wait_for("PAYMENT_STATUS_CHANGED", 2, 10, of_order(&other))
        .await;
    assert_eq!(posts.len(), 2, "sent twice");
    assert!(receiver
        .events("PAYMENT_STATUS_CHANGED", of_order(&order))
        .is_empty());
    sb.stop().await;
}
