//! The SQL of cancels in the read model: `order.payment.canceled` recorded per cancel, and
//! read back with the views they belong to. Kept apart from the views (see the migration), so a
//! cancel projected before its order is not lost: the view picks it up when it appears.

use chrono::{DateTime, Utc};
use events::PaymentCanceled;
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// One row of `order_cancels`.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelRow {
    pub cancel_no: i64,
    pub payment_event_no: i64,
    pub cancel_reason: String,
    pub amount: Decimal,
    pub canceled_at: DateTime<Utc>,
}

/// One row of `order_cancel_lines`.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelLineRow {
    pub cancel_no: i64,
    pub payment_order_no: i64,
    pub product_no: i64,
    pub seller_no: i64,
    pub amount: Decimal,
}

/// Records a cancel with its lines, once per `cancelNo` (a re-emitted event with a new
/// `eventId` passes `apply_once` and stops here). Returns whether it was new.
pub async fn record_cancel(
    conn: &mut PgConnection,
    cancel: &PaymentCanceled,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into order_cancels (cancel_no, payment_event_no, order_id, member_no,
             cancel_reason, amount, canceled_at)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (cancel_no) do nothing",
        cancel.cancel_no,
        cancel.payment_event_no,
        &cancel.order_id,
        cancel.member_no,
        &cancel.cancel_reason,
        cancel.lines.iter().map(|l| l.amount).sum::<Decimal>(),
        cancel.canceled_at,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    let lines = &cancel.lines;
    let column = |f: fn(&events::CanceledLine) -> i64| lines.iter().map(f).collect::<Vec<_>>();
    let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount).collect();
    let line_amounts: Vec<Decimal> = lines.iter().map(|l| l.line_amount).collect();
    sqlx::query!(
        "insert into order_cancel_lines (cancel_no, payment_order_no, product_no, seller_no,
             amount, line_amount)
         select $1, l.no, l.product_no, l.seller_no, l.amount, l.line_amount
         from unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[], $6::numeric[])
             as l(no, product_no, seller_no, amount, line_amount)
         on conflict do nothing",
        cancel.cancel_no,
        &column(|l| l.payment_order_no),
        &column(|l| l.product_no),
        &column(|l| l.seller_no),
        &amounts,
        &line_amounts,
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// The cancels of a page of views, oldest first per order, and their lines.
pub async fn cancels_of(
    conn: &mut PgConnection,
    payment_event_nos: &[i64],
) -> Result<(Vec<CancelRow>, Vec<CancelLineRow>), sqlx::Error> {
    if payment_event_nos.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let cancels = sqlx::query_as!(
        CancelRow,
        "select cancel_no, payment_event_no, cancel_reason, amount, canceled_at
         from order_cancels where payment_event_no = any($1)
         order by payment_event_no, canceled_at, cancel_no",
        payment_event_nos,
    )
    .fetch_all(&mut *conn)
    .await?;
    if cancels.is_empty() {
        return Ok((cancels, Vec::new()));
    }
    let cancel_nos: Vec<i64> = cancels.iter().map(|c| c.cancel_no).collect();
    let lines = sqlx::query_as!(
        CancelLineRow,
        "select cancel_no, payment_order_no, product_no, seller_no, amount
         from order_cancel_lines where cancel_no = any($1)
         order by cancel_no, payment_order_no",
        &cancel_nos,
    )
    .fetch_all(conn)
    .await?;
    Ok((cancels, lines))
}
