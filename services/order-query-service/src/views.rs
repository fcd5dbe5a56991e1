//! The JSON the API answers, and its assembly from rows (views and their lines).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use rust_decimal::Decimal;
use service_kit::{ApiError, Id};

use crate::{
    cancels::{CancelLineRow, CancelRow},
    store::{self, LineRow, ViewRow},
};

/// Where a payment stands in the read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OrderStatus {
    /// Confirmed by the PSP; final.
    #[oai(rename = "PAID")]
    Paid,
    /// The payment failed (`failureCode` says why).
    #[oai(rename = "FAILED")]
    Failed,
    /// Paid, and part of it refunded (`refundedAmount` < `totalAmount`).
    #[oai(rename = "PARTIAL_CANCELED")]
    PartialCanceled,
    /// Paid and refunded in full.
    #[oai(rename = "CANCELED")]
    Canceled,
}

impl OrderStatus {
    /// A paid order's cancels decide between PAID, PARTIAL_CANCELED and CANCELED; derived at
    /// read time from the recorded cancels, so it does not depend on which event came first.
    fn from_db(status: &str, total: Option<Decimal>, refunded: Decimal) -> Result<Self, ApiError> {
        match status {
            store::PAID if refunded.is_zero() => Ok(Self::Paid),
            store::PAID if total.is_some_and(|t| refunded >= t) => Ok(Self::Canceled),
            store::PAID => Ok(Self::PartialCanceled),
            store::FAILED => Ok(Self::Failed),
            // Only the projection writes this column; anything else is a bug, not input.
            other => Err(ApiError::internal(format!(
                "unknown order status {other:?}"
            ))),
        }
    }
}

/// What one cancel refunded of one line.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrderCancelLine {
    pub payment_order_no: Id,
    pub product_no: Id,
    pub seller_no: Id,
    /// Refunded of this line by this cancel.
    pub amount: Decimal,
}

/// One cancel (full or partial) of a paid order, as the PSP confirmed it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrderCancel {
    pub cancel_no: Id,
    /// Refunded by this cancel.
    pub amount: Decimal,
    pub reason: String,
    pub canceled_at: DateTime<Utc>,
    pub lines: Vec<OrderCancelLine>,
}

/// The cancels of a page of views, grouped per payment event.
pub struct Cancels(HashMap<i64, Vec<OrderCancel>>);

impl Cancels {
    pub fn new(cancels: Vec<CancelRow>, lines: Vec<CancelLineRow>) -> Self {
        let mut by_cancel: HashMap<i64, Vec<OrderCancelLine>> = HashMap::new();
        for l in lines {
            by_cancel
                .entry(l.cancel_no)
                .or_default()
                .push(OrderCancelLine {
                    payment_order_no: Id(l.payment_order_no),
                    product_no: Id(l.product_no),
                    seller_no: Id(l.seller_no),
                    amount: l.amount,
                });
        }
        let mut by_event: HashMap<i64, Vec<OrderCancel>> = HashMap::new();
        for c in cancels {
            by_event
                .entry(c.payment_event_no)
                .or_default()
                .push(OrderCancel {
                    cancel_no: Id(c.cancel_no),
                    amount: c.amount,
                    reason: c.cancel_reason,
                    canceled_at: c.canceled_at,
                    lines: by_cancel.remove(&c.cancel_no).unwrap_or_default(),
                });
        }
        Self(by_event)
    }
}

/// One paid product of an order.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrderLine {
    pub payment_order_no: Id,
    pub product_no: Id,
    pub seller_no: Id,
    pub product_name: String,
    pub amount: Decimal,
}

/// One order (payment event) with all its lines.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Order {
    pub payment_event_no: Id,
    pub member_no: Id,
    pub order_id: String,
    #[oai(nullable)]
    pub order_name: Option<String>,
    pub status: OrderStatus,
    #[oai(nullable)]
    pub total_amount: Option<Decimal>,
    /// The PSP's payment key (PAID only).
    #[oai(nullable)]
    pub payment_key: Option<String>,
    /// Payment method as the PSP reports it (PAID only).
    #[oai(nullable)]
    pub method: Option<String>,
    #[oai(nullable)]
    pub approved_at: Option<DateTime<Utc>>,
    /// Why the payment failed (FAILED only), e.g. `REJECT_CARD_PAYMENT`.
    #[oai(nullable)]
    pub failure_code: Option<String>,
    /// The sellers' wallets have been credited for this order.
    pub wallet_settled: bool,
    /// When the order was placed (millisecond precision); pages are sorted by it.
    pub created_date_time: DateTime<Utc>,
    /// Empty for a failed payment.
    pub lines: Vec<OrderLine>,
    /// Σ of the cancels' amounts (0 when nothing was refunded).
    pub refunded_amount: Decimal,
    /// The order's cancels, oldest first.
    pub cancels: Vec<OrderCancel>,
}

/// Pass both fields back as `?paymentEventNo=&createdDateTime=` for the next page.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PageCursor {
    pub payment_event_no: Id,
    /// Epoch milliseconds of the last order's `createdDateTime` (ISO-8601 is accepted too).
    pub created_date_time: i64,
}

/// One page of a member's orders, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// The cursor of the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<PageCursor>,
}

impl From<LineRow> for OrderLine {
    fn from(l: LineRow) -> Self {
        Self {
            payment_order_no: Id(l.payment_order_no),
            product_no: Id(l.product_no),
            seller_no: Id(l.seller_no),
            product_name: l.product_name,
            amount: l.amount,
        }
    }
}

fn order(
    row: ViewRow,
    lines: Vec<OrderLine>,
    cancels: Vec<OrderCancel>,
) -> Result<Order, ApiError> {
    let refunded_amount: Decimal = cancels.iter().map(|c| c.amount).sum();
    Ok(Order {
        payment_event_no: Id(row.payment_event_no),
        member_no: Id(row.member_no),
        order_id: row.order_id,
        order_name: row.order_name,
        status: OrderStatus::from_db(&row.status, row.total_amount, refunded_amount)?,
        total_amount: row.total_amount,
        payment_key: row.payment_key,
        method: row.method,
        approved_at: row.approved_at,
        failure_code: row.failure_code,
        wallet_settled: row.is_wallet_done,
        created_date_time: row.created_at,
        lines,
        refunded_amount,
        cancels,
    })
}

/// Joins views with the lines and cancels loaded for all of them, keeping the views' order.
pub fn orders(
    views: Vec<ViewRow>,
    lines: Vec<LineRow>,
    mut cancels: Cancels,
) -> Result<Vec<Order>, ApiError> {
    let mut by_event: HashMap<i64, Vec<OrderLine>> = HashMap::new();
    for line in lines {
        by_event
            .entry(line.payment_event_no)
            .or_default()
            .push(line.into());
    }
    views
        .into_iter()
        .map(|v| {
            let lines = by_event.remove(&v.payment_event_no).unwrap_or_default();
            let cancels = cancels.0.remove(&v.payment_event_no).unwrap_or_default();
            order(v, lines, cancels)
        })
        .collect()
}

/// A page from up to `limit + 1` views: the extra one only tells that another page exists.
pub fn page(
    mut views: Vec<ViewRow>,
    lines: Vec<LineRow>,
    cancels: Cancels,
    limit: usize,
) -> Result<OrderPage, ApiError> {
    let more = views.len() > limit;
    views.truncate(limit);
    let next_cursor = match views.last() {
        Some(last) if more => Some(PageCursor {
            payment_event_no: Id(last.payment_event_no),
            created_date_time: last.created_at.timestamp_millis(),
        }),
        _ => None,
    };
    Ok(OrderPage {
        orders: orders(views, lines, cancels)?,
        next_cursor,
    })
}
