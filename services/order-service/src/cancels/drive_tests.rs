//! Which refund in the PSP's record is a cancel's own ([`super::own_refund`]).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::own_refund;
use crate::{psp::TossPayment, status::CancelStatus, store::cancels::CancelRow};

fn opened_at() -> DateTime<Utc> {
    "2026-12-06T12:00:00Z".parse().expect("time")
}

fn cancel(amount: i64) -> CancelRow {
    CancelRow {
        cancel_no: 7,
        payment_event_no: 1,
        order_id: "order-1".into(),
        request_hash: String::new(),
        cancel_reason: "x".into(),
        cancel_amount: Decimal::from(amount),
        status: CancelStatus::Unknown,
        attempts: 1,
        failure_code: None,
        canceled_at: None,
        event_id: None,
        is_wallet_done: false,
        created_at: opened_at(),
    }
}

/// A Payment of 3000 with refunds `(amount, key, seconds after the cancel was opened)`.
fn record(refunds: &[(i64, Option<&str>, Option<i64>)]) -> TossPayment {
    let cancels: Vec<_> = refunds
        .iter()
        .map(|(amount, key, after)| {
            json!({
                "cancelAmount": amount,
                "transactionKey": key,
                "canceledAt": after.map(|s| (opened_at() + Duration::seconds(s)).to_rfc3339()),
            })
        })
        .collect();
    serde_json::from_value(json!({
        "paymentKey": "pk", "orderId": "order-1", "status": "PARTIAL_CANCELED",
        "totalAmount": 3000, "cancels": cancels,
    }))
    .expect("a Payment")
}

fn key_of(psp: &TossPayment, recorded: &[&str], amount: i64) -> Option<String> {
    let recorded: Vec<String> = recorded.iter().map(|k| k.to_string()).collect();
    own_refund(psp, &cancel(amount), &recorded).and_then(|c| c.transaction_key.clone())
}

#[test]
fn the_refund_of_the_cancels_amount_since_it_was_opened_is_its_own() {
    let psp = record(&[(1500, Some("dash"), Some(1)), (1000, Some("ours"), Some(2))]);
    assert_eq!(key_of(&psp, &[], 1000).as_deref(), Some("ours"));
}

#[test]
fn a_refund_made_elsewhere_of_another_amount_is_not() {
    let psp = record(&[(1500, Some("dash"), Some(1))]);
    assert_eq!(key_of(&psp, &[], 1000), None);
}

#[test]
fn a_refund_another_cancel_recorded_is_not() {
    let psp = record(&[(1000, Some("earlier"), Some(1))]);
    assert_eq!(key_of(&psp, &["earlier"], 1000), None);
    // Two cancels of one amount: the later refund is the open one's.
    let psp = record(&[
        (1000, Some("earlier"), Some(1)),
        (1000, Some("ours"), Some(5)),
    ]);
    assert_eq!(key_of(&psp, &["earlier"], 1000).as_deref(), Some("ours"));
}

#[test]
fn a_refund_from_before_the_cancel_was_opened_is_not() {
    let psp = record(&[(1000, Some("old"), Some(-3600))]);
    assert_eq!(key_of(&psp, &[], 1000), None);
    // The PSP's clock may run a little behind ours.
    let psp = record(&[(1000, Some("skewed"), Some(-30))]);
    assert_eq!(key_of(&psp, &[], 1000).as_deref(), Some("skewed"));
}

#[test]
fn an_entry_without_a_key_or_a_time_fits_nothing() {
    assert_eq!(key_of(&record(&[(1000, None, Some(1))]), &[], 1000), None);
    assert_eq!(key_of(&record(&[(1000, Some("k"), None)]), &[], 1000), None);
}
