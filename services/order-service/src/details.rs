//! `GET /api/payments/{orderId}`: a payment's status, lines, cancels, history and settlement.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use rust_decimal::Decimal;
use service_kit::{ApiError, Id};

use crate::{
    payments::{order_status, Payments},
    status::{CancelStatus, PaymentStatus},
    store,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PaymentLine {
    pub payment_order_no: Id,
    pub product_no: Id,
    pub seller_no: Id,
    pub product_name: String,
    pub amount: Decimal,
    pub refunded_amount: Decimal,
    pub status: PaymentStatus,
    pub failed_count: i32,
}

/// One cancel of the order.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CancelView {
    pub cancel_no: Id,
    /// REQUESTED, UNKNOWN (being re-driven), DONE, REJECTED.
    pub status: CancelStatus,
    pub cancel_amount: Decimal,
    pub cancel_reason: String,
    #[oai(skip_serializing_if_is_none)]
    pub failure_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub canceled_at: Option<DateTime<Utc>>,
    pub requested_at: DateTime<Utc>,
    /// Every status it took, with the reason (the PSP's answer of each attempt) and who moved it.
    pub history: Vec<CancelStatusChange>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CancelStatusChange {
    #[oai(skip_serializing_if_is_none)]
    pub previous_status: Option<String>,
    pub new_status: String,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct StatusChange {
    pub payment_order_no: Id,
    #[oai(skip_serializing_if_is_none)]
    pub previous_status: Option<String>,
    pub new_status: String,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PaymentDetails {
    pub order_id: String,
    pub payment_event_no: Id,
    pub member_no: Id,
    pub order_name: String,
    pub total_amount: Decimal,
    pub status: PaymentStatus,
    #[oai(skip_serializing_if_is_none)]
    pub payment_key: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub method: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub approved_at: Option<DateTime<Utc>>,
    pub is_payment_done: bool,
    /// The sellers' wallets have been credited.
    pub is_wallet_done: bool,
    pub refunded_amount: Decimal,
    /// What a cancel can still refund (0 unless the order is paid).
    pub refundable_amount: Decimal,
    /// The outcome is still unknown after the lookup threshold: the recovery job keeps
    /// looking, and the order is listed on `GET /admin/payments/unresolved`.
    pub needs_attention: bool,
    pub cancels: Vec<CancelView>,
    pub lines: Vec<PaymentLine>,
    pub history: Vec<StatusChange>,
    pub created_at: DateTime<Utc>,
}

pub async fn payment_details(
    payments: &Payments,
    order_id: &str,
) -> Result<PaymentDetails, ApiError> {
    // One snapshot: read statement by statement, a cancel committing in between showed its
    // cancel DONE beside lines still unrefunded (seen in CI, stop 30).
    let mut tx = service_kit::db::snapshot(&payments.pool).await?;
    let Some(event) = store::find_event(&mut tx, order_id, false).await? else {
        return Err(ApiError::not_found(
            "ORDER_NOT_FOUND",
            format!("no order {}", order_id),
        ));
    };
    let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
    let history = store::find_history(&mut tx, event.payment_event_no).await?;
    let cancels = store::cancels::list(&mut tx, event.payment_event_no).await?;
    let mut cancel_history = store::cancel_states::history(&mut tx, event.payment_event_no).await?;
    tx.commit().await?;
    let status = order_status(&lines);
    Ok(PaymentDetails {
        status,
        refunded_amount: event.refunded_amount,
        refundable_amount: if status.is_paid() {
            event.total_amount - event.refunded_amount
        } else {
            Decimal::ZERO
        },
        needs_attention: status == PaymentStatus::Unknown
            && lines.iter().any(|l| l.failed_count >= l.threshold),
        cancels: cancels
            .into_iter()
            .map(|c| CancelView {
                cancel_no: Id(c.cancel_no),
                status: c.status,
                cancel_amount: c.cancel_amount,
                cancel_reason: c.cancel_reason,
                failure_code: c.failure_code.as_deref().map(coarse_reason),
                canceled_at: c.canceled_at,
                requested_at: c.created_at,
                history: cancel_history
                    .extract_if(.., |h| h.cancel_no == c.cancel_no)
                    .map(|h| CancelStatusChange {
                        previous_status: h.previous_status,
                        new_status: h.new_status,
                        reason: coarse_reason(&h.reason),
                        changed_by: coarse_actor(h.changed_by),
                        changed_at: h.created_at,
                    })
                    .collect(),
            })
            .collect(),
        order_id: event.order_id,
        payment_event_no: Id(event.payment_event_no),
        member_no: Id(event.member_no),
        order_name: event.order_name,
        total_amount: event.total_amount,
        payment_key: event.payment_key,
        method: event.method,
        approved_at: event.approved_at,
        is_payment_done: event.is_payment_done,
        is_wallet_done: event.is_wallet_done,
        lines: lines
            .into_iter()
            .map(|l| PaymentLine {
                payment_order_no: Id(l.payment_order_no),
                product_no: Id(l.product_no),
                seller_no: Id(l.seller_no),
                product_name: l.product_name,
                amount: l.amount,
                refunded_amount: l.refunded_amount,
                status: l.status,
                failed_count: l.failed_count,
            })
            .collect(),
        history: history
            .into_iter()
            .map(|h| StatusChange {
                payment_order_no: Id(h.payment_order_no),
                previous_status: h.previous_status,
                new_status: h.new_status,
                reason: h.reason,
                changed_by: h.changed_by,
                changed_at: h.created_at,
            })
            .collect(),
        created_at: event.created_at,
    })
}

/// A cancel's reason as the order's member sees it: the code, without the detail some carry
/// after it (`RECORDED_REFUNDS: <the database's error>`, `<code>; <why>`), which is for the
/// logs and the operators' listing.
fn coarse_reason(reason: &str) -> String {
    reason
        .split([':', ';'])
        .next()
        .unwrap_or(reason)
        .trim()
        .to_string()
}

/// Who moved a cancel, as the member sees it: an operator is `admin`, not their account.
fn coarse_actor(actor: String) -> String {
    if actor.starts_with("admin") {
        "admin".to_string()
    } else {
        actor
    }
}
