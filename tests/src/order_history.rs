//! Fixtures of the order-query suite: one member's order history as the events the read
//! model is fed from (typed envelopes with chosen times), and the read model over HTTP.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use events::{
    Envelope, Event, PaidOrderLine, PaymentConfirmed, PaymentFailed, SellerCredit, WalletSettled,
};
use serde_json::Value;
use sqlx::types::{Decimal, Uuid};

use crate::{eventually, http::send, TestSystem};

pub const SERVICE: &str = "order-query-service";
/// How long the projection may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// `millis` after `base`.
pub fn at(base: DateTime<Utc>, millis: i64) -> DateTime<Utc> {
    base + TimeDelta::milliseconds(millis)
}

/// The time the suite's histories start at.
pub fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

/// `payload` in an envelope that occurred at `occurred_at`.
pub fn event<E: Event>(payload: E, occurred_at: DateTime<Utc>) -> Envelope<E> {
    let mut envelope = Envelope::new(payload);
    envelope.occurred_at = occurred_at;
    envelope
}

/// A paid order with `lines` lines of 1000, 2000, … (payment order numbers `pen * 10 + i`).
pub fn paid(pen: i64, member: i64, ordered_at: DateTime<Utc>, lines: i64) -> PaymentConfirmed {
    let lines: Vec<PaidOrderLine> = (0..lines)
        .map(|i| PaidOrderLine {
            payment_order_no: pen * 10 + i,
            product_no: 1 + i,
            seller_no: 900_000 + i,
            product_name: format!("상품{i}"),
            amount: Decimal::from(1000 * (i + 1)),
        })
        .collect();
    PaymentConfirmed {
        payment_event_no: pen,
        member_no: member,
        order_id: format!("order-{pen}"),
        order_name: format!("order of {member}"),
        payment_key: format!("pk-{pen}"),
        method: "카드".into(),
        approved_at: ordered_at + TimeDelta::seconds(5),
        total_amount: lines.iter().map(|l| l.amount).sum(),
        ordered_at,
        lines,
    }
}

/// A failed order of 1000.
pub fn failed(pen: i64, member: i64, ordered_at: DateTime<Utc>, reason: &str) -> PaymentFailed {
    PaymentFailed {
        payment_event_no: pen,
        member_no: member,
        order_id: format!("order-{pen}"),
        order_name: format!("order of {member}"),
        total_amount: Decimal::from(1000),
        ordered_at,
        reason_code: reason.into(),
    }
}

/// The settlement of `order`: one credit per line.
pub fn settled(order: &PaymentConfirmed) -> WalletSettled {
    WalletSettled {
        order_id: order.order_id.clone(),
        payment_event_no: order.payment_event_no,
        credits: order
            .lines
            .iter()
            .map(|l| SellerCredit {
                seller_no: l.seller_no,
                amount: l.amount,
            })
            .collect(),
    }
}

/// `(status, body)` of a GET of order-query-service.
pub async fn get(system: &TestSystem, path_and_query: &str) -> (u16, Value) {
    send(
        system
            .http
            .get(format!("{}{path_and_query}", system.url(SERVICE))),
    )
    .await
}

/// Every order of `member` (one page of 100), newest first.
pub async fn all_orders(system: &TestSystem, member: i64) -> Vec<Value> {
    let (status, body) = get(system, &format!("/api/orders/members/{member}?limit=100")).await;
    assert_eq!(status, 200, "{body}");
    body["orders"].as_array().cloned().unwrap_or_default()
}

/// Waits until `member` has `count` orders; the orders.
pub async fn wait_for_orders(system: &TestSystem, member: i64, count: usize) -> Vec<Value> {
    eventually(
        WAIT,
        &format!("{count} orders of member {member}"),
        || async {
            let orders = all_orders(system, member).await;
            (orders.len() == count).then_some(orders)
        },
    )
    .await
}

/// Waits until the projection has recorded every one of `ids` as processed.
pub async fn wait_processed(db: &sqlx::PgPool, ids: &[Uuid]) {
    let ids = ids.to_vec();
    eventually(WAIT, "events processed", || async {
        let done: i64 = sqlx::query_scalar(
            "select count(distinct event_id) from processed_events where event_id = any($1)",
        )
        .bind(&ids)
        .fetch_one(db)
        .await
        .ok()?;
        (done == ids.len() as i64).then_some(())
    })
    .await
}

/// An order's payment event number.
pub fn pen_of(order: &Value) -> i64 {
    order["paymentEventNo"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("paymentEventNo is a string id")
}

/// One member's history: a settled order, a FAILED then PAID order, a FAILED order reported
/// twice (newer reason wins), and a PAID order re-emitted later under a new event id with a
/// newer method (newer wins).
pub struct History {
    pub paid1: Envelope<PaymentConfirmed>,
    pub settled1: Envelope<WalletSettled>,
    pub failed2: Envelope<PaymentFailed>,
    pub paid2: Envelope<PaymentConfirmed>,
    pub failed3_old: Envelope<PaymentFailed>,
    pub failed3_new: Envelope<PaymentFailed>,
    pub paid4_old: Envelope<PaymentConfirmed>,
    pub paid4_new: Envelope<PaymentConfirmed>,
}

/// The [`History`] of `member`, its payment event numbers from `first` on.
pub fn history(member: i64, first: i64) -> History {
    let base = base_time();
    let o1 = paid(first, member, at(base, 1), 2);
    let o4 = paid(first + 3, member, at(base, 4), 3);
    let mut o4_new = o4.clone();
    o4_new.method = "간편결제".into();
    History {
        settled1: event(settled(&o1), at(base, 2_000)),
        paid1: event(o1, at(base, 1_000)),
        failed2: event(
            failed(first + 1, member, at(base, 2), "PROVIDER_ERROR"),
            at(base, 1_000),
        ),
        paid2: event(paid(first + 1, member, at(base, 2), 1), at(base, 3_000)),
        failed3_old: event(
            failed(first + 2, member, at(base, 3), "REJECT_CARD_PAYMENT"),
            at(base, 1_000),
        ),
        failed3_new: event(
            failed(first + 2, member, at(base, 3), "EXCEED_MAX_AMOUNT"),
            at(base, 2_000),
        ),
        paid4_old: event(o4, at(base, 1_000)),
        paid4_new: event(o4_new, at(base, 2_000)),
    }
}

/// The orders with their ids made relative to the member's first payment event number.
pub fn normalized(orders: &[Value], first: i64) -> Vec<Value> {
    let mut orders = orders.to_vec();
    for order in &mut orders {
        order["paymentEventNo"] = (pen_of(order) - first).into();
        for field in ["memberNo", "orderId", "orderName", "paymentKey"] {
            order[field] = Value::Null;
        }
        for line in order["lines"].as_array_mut().into_iter().flatten() {
            let no: i64 = line["paymentOrderNo"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            line["paymentOrderNo"] = (no - first * 10).into();
        }
    }
    orders
}
