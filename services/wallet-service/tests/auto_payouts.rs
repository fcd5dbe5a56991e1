//! Automatic daily payouts (src/payouts/auto.rs `run_for`) against real Postgres, NATS and the
//! PSP sandbox: every seller with a whole won available is paid the whole won of it, once a
//! day whatever runs the pass again (a second instance, a restart), and the next day pays
//! what came in since; and a refund after a payout leaves the seller owing. The ledger stays
//! sound (tests/payout_support `assert_sound`).

mod payout_support;
mod support;

use std::time::Duration;

use chrono::NaiveDate;
use payout_support::{d, Stack};
use rust_decimal::Decimal;
use wallet_service::payouts::auto;

const A: i64 = 1;
const B: i64 = 2;

#[tokio::test]
async fn automatic_payouts_pay_the_whole_won_once_a_day() {
    let s = Stack::start(&[]).await;
    s.webhooks_to_wallet().await;
    s.fund(A, 100, 10_000).await;
    s.fund(B, 200, 1_000).await;
    // 500.50 more for B: an automatic payout takes whole won only, the 0.50 stays.
    credit(&s, B, 201, Decimal::new(50050, 2)).await;
    wait_available(&s, B, Decimal::new(150050, 2)).await;

    let paths = s.payout_paths();
    let day = NaiveDate::from_ymd_opt(2026, 12, 7).expect("a date");
    assert_eq!(auto::run_for(&paths, day).await.expect("a pass"), 2);
    assert_eq!(
        auto::run_for(&paths, day)
            .await
            .expect("the same day again"),
        0,
        "one automatic payout per seller and day"
    );
    assert_eq!(
        payouts(&s).await,
        [
            (A, d(10_000), format!("payout-auto:{A}:{day}")),
            (B, d(1_500), format!("payout-auto:{B}:{day}")),
        ]
    );
    s.expect_wallet(A, 0, 0, 10_000).await;
    wait_available(&s, B, Decimal::new(50, 2)).await;

    // The next day: only what came in since, and only sellers with a whole won.
    credit(&s, A, 300, d(700)).await;
    wait_available(&s, A, d(700)).await;
    let next = day.succ_opt().expect("the next day");
    assert_eq!(auto::run_for(&paths, next).await.expect("the next day"), 1);
    s.expect_wallet(A, 0, 0, 10_700).await;
    assert_eq!(payouts(&s).await.len(), 3);
    // (charged 12,200.50: the PSP-side check takes whole won, so only the ledger's own)
    s.assert_sound(0, -1).await;
    s.stop().await;
}

/// Every payout: seller, amount, key, in seller and request order.
async fn payouts(s: &Stack) -> Vec<(i64, Decimal, String)> {
    sqlx::query_as(
        "select seller_no, amount, idempotency_key from payouts order by requested_at, seller_no",
    )
    .fetch_all(&s.w.pool)
    .await
    .expect("payouts")
}

/// A released sale of `amount` (fractions allowed) for a seller who has a wallet.
async fn credit(s: &Stack, seller_no: i64, event_no: i64, amount: Decimal) {
    let mut event = support::confirmed(event_no, &[(event_no * 10 + 1, seller_no, 1)]);
    event.payload.lines[0].amount = amount;
    event.payload.total_amount = amount;
    s.w.publish(&event).await;
}

async fn wait_available(s: &Stack, seller_no: i64, want: Decimal) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, w) = s.w.wallet(seller_no).await;
        let available = w["available"]
            .as_str()
            .and_then(|v| v.parse::<Decimal>().ok());
        if available == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "wallet {w}, want available {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A refund after the seller was paid out (through the payout flow, not rows written by hand):
/// the reversal still posts, the seller's available goes below zero and is owed, no payout
/// is possible until it is made up, and the money at the PSP reads charged − refunded − paid.
#[tokio::test]
async fn a_refund_after_a_payout_leaves_the_seller_owing() {
    let s = Stack::start(&[]).await;
    s.webhooks_to_wallet().await;
    s.fund(A, 100, 1000).await;
    let (status, p) = s.payout(A, serde_json::json!({"amount": 800}), None).await;
    assert_eq!(status, 201, "{p}");
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    s.wait_status(A, &no, "COMPLETED").await;
    s.expect_wallet(A, 200, 0, 800).await;

    s.w.publish(&support::canceled(100, 9001, &[(1001, A, 1000, 1000)]))
        .await;
    s.expect_wallet(A, -800, 0, 800).await;
    let (status, body) = s.payout(A, serde_json::json!({"amount": 1}), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("PAYOUT_EXCEEDS_AVAILABLE")),
        "{body}"
    );
    s.assert_sound(0, 800).await;
    s.stop().await;
}
