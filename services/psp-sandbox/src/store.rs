//! Payments and refunds in the sandbox's database. Every change of a payment is one guarded
//! update inside the caller's transaction, together with its rows in `transactions` (and
//! `payment_cancels`), so the transaction log can never disagree with the payments.

use chrono::{DateTime, FixedOffset, Utc};
use sqlx::{PgConnection, PgPool};

use crate::{
    amount::Amount,
    errors::TossError,
    payment::{kst, CancelRecord, PaymentRecord, PaymentStatus},
};

fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("payments: {what}").into())
}

/// A `payments` row as the checked queries read it.
struct PaymentRow {
    payment_key: String,
    order_id: String,
    order_name: String,
    total_amount: i64,
    balance_amount: i64,
    status: PaymentStatus,
    requested_at: DateTime<Utc>,
    approved_at: Option<DateTime<Utc>>,
    last_transaction_key: Option<String>,
    approve_no: Option<String>,
    failure_code: Option<String>,
    failure_message: Option<String>,
}

impl From<PaymentRow> for PaymentRecord {
    fn from(row: PaymentRow) -> Self {
        Self {
            payment_key: row.payment_key,
            order_id: row.order_id,
            order_name: row.order_name,
            amount: Amount(row.total_amount),
            balance: row.balance_amount,
            status: row.status,
            requested_at: kst(row.requested_at),
            approved_at: row.approved_at.map(kst),
            last_transaction_key: row.last_transaction_key,
            approve_no: row.approve_no,
            failure: row.failure_code.map(|code| TossError {
                code,
                message: row.failure_message.unwrap_or_default(),
            }),
            cancels: Vec::new(),
        }
    }
}

/// The `PaymentRow` that `select <every PaymentRow column> from payments <rest>` finds on
/// `conn`, if any: a checked query (sqlx joins string literals written with `+`), so the
/// four ways `find` reads a payment share the column list.
macro_rules! select_payment {
    ($conn:ident, $rest:literal, $value:expr) => {
        sqlx::query_as!(
            PaymentRow,
            r#"select payment_key, order_id, order_name, total_amount, balance_amount,
                      status as "status: PaymentStatus", requested_at, approved_at,
                      last_transaction_key, approve_no, failure_code, failure_message
                 from payments "#
                + $rest,
            $value,
        )
        .fetch_optional(&mut *$conn)
        .await?
    };
}

async fn cancels(
    conn: &mut PgConnection,
    payment_key: &str,
) -> Result<Vec<CancelRecord>, sqlx::Error> {
    let rows = sqlx::query!(
        "select transaction_key, cancel_amount, cancel_reason, refundable_amount, receipt_key,
                canceled_at
           from payment_cancels where payment_key = $1 order by seq",
        payment_key,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| CancelRecord {
            transaction_key: row.transaction_key,
            amount: Amount(row.cancel_amount),
            reason: row.cancel_reason,
            refundable: row.refundable_amount,
            receipt_key: row.receipt_key,
            canceled_at: kst(row.canceled_at),
        })
        .collect())
}

/// How a payment is looked up.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    PaymentKey(&'a str),
    OrderId(&'a str),
}

/// The payment with its cancels. `lock` takes the row lock (`for update`) that makes a
/// check-then-change atomic: concurrent confirms or cancels of one payment queue on it.
pub async fn find(
    conn: &mut PgConnection,
    by: By<'_>,
    lock: bool,
) -> Result<Option<PaymentRecord>, sqlx::Error> {
    // Each arm is its own query (and type), so each one fetches.
    let found = match (by, lock) {
        (By::PaymentKey(key), false) => select_payment!(conn, "where payment_key = $1", key),
        (By::PaymentKey(key), true) => {
            select_payment!(conn, "where payment_key = $1 for update", key)
        }
        (By::OrderId(id), false) => select_payment!(conn, "where order_id = $1", id),
        (By::OrderId(id), true) => select_payment!(conn, "where order_id = $1 for update", id),
    };
    let Some(row) = found else {
        return Ok(None);
    };
    let mut payment = PaymentRecord::from(row);
    payment.cancels = cancels(conn, &payment.payment_key).await?;
    Ok(Some(payment))
}

/// The orderId of a paymentKey (to count a cancel call per order before it is evaluated).
pub async fn order_of(pool: &PgPool, payment_key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select order_id from payments where payment_key = $1",
        payment_key,
    )
    .fetch_optional(pool)
    .await
}

/// Inserts a READY payment; false if the orderId (or, very unlikely, the key) exists.
pub async fn insert_ready(pool: &PgPool, p: &PaymentRecord) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into payments (payment_key, order_id, order_name, total_amount, balance_amount,
                               requested_at)
         values ($1, $2, $3, $4, $4, $5) on conflict do nothing",
        p.payment_key,
        p.order_id,
        p.order_name,
        p.amount.0,
        p.requested_at,
    )
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn log_transaction(
    conn: &mut PgConnection,
    p: &PaymentRecord,
    transaction_key: &str,
    status: PaymentStatus,
    amount: i64,
    at: DateTime<FixedOffset>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into transactions (transaction_key, payment_key, order_id, status, amount,
                                   transaction_at)
         values ($1, $2, $3, $4, $5, $6)",
        transaction_key,
        p.payment_key,
        p.order_id,
        status.as_str(),
        amount,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// READY → DONE, the one place a customer is charged; `p` is updated to what was stored.
/// The `status = 'READY'` guard makes a second charge impossible even without the row lock.
pub async fn charge(
    conn: &mut PgConnection,
    p: &mut PaymentRecord,
    transaction_key: String,
    approve_no: String,
    at: DateTime<FixedOffset>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "update payments set status = 'DONE', approved_at = $2, last_transaction_key = $3,
                             approve_no = $4
          where payment_key = $1 and status = 'READY'",
        p.payment_key,
        at,
        transaction_key,
        approve_no,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    log_transaction(
        conn,
        p,
        &transaction_key,
        PaymentStatus::Done,
        p.amount.0,
        at,
    )
    .await?;
    p.status = PaymentStatus::Done;
    p.approved_at = Some(at);
    p.last_transaction_key = Some(transaction_key);
    p.approve_no = Some(approve_no);
    Ok(true)
}

/// READY → ABORTED with the decline as its failure; other states are left alone. Returns
/// whether the payment was aborted.
pub async fn abort(
    conn: &mut PgConnection,
    payment_key: &str,
    failure: &TossError,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "update payments set status = 'ABORTED', failure_code = $2, failure_message = $3
          where payment_key = $1 and status = 'READY'",
        payment_key,
        failure.code,
        failure.message,
    )
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Records a refund of a locked, cancelable payment whose balance covers it; `p` is updated
/// to what was stored (balance, status, cancels, last transaction).
pub async fn cancel(
    conn: &mut PgConnection,
    p: &mut PaymentRecord,
    cancel: CancelRecord,
) -> Result<(), sqlx::Error> {
    let status = if cancel.refundable == 0 {
        PaymentStatus::Canceled
    } else {
        PaymentStatus::PartialCanceled
    };
    sqlx::query!(
        "insert into payment_cancels (transaction_key, payment_key, cancel_amount, cancel_reason,
                                      refundable_amount, receipt_key, canceled_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
        cancel.transaction_key,
        p.payment_key,
        cancel.amount.0,
        cancel.reason,
        cancel.refundable,
        cancel.receipt_key,
        cancel.canceled_at,
    )
    .execute(&mut *conn)
    .await?;
    // The balance guard repeats the caller's check in SQL: a refund can never overdraw.
    let updated = sqlx::query!(
        "update payments set balance_amount = balance_amount - $2, status = $3,
                             last_transaction_key = $4
          where payment_key = $1 and balance_amount >= $2
            and status in ('DONE', 'PARTIAL_CANCELED')",
        p.payment_key,
        cancel.amount.0,
        status.as_str(),
        cancel.transaction_key,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(decode_error("the payment changed under its row lock"));
    }
    let key = cancel.transaction_key.clone();
    log_transaction(conn, p, &key, status, cancel.amount.0, cancel.canceled_at).await?;
    p.balance = cancel.refundable;
    p.status = status;
    p.last_transaction_key = Some(key);
    p.cancels.push(cancel);
    Ok(())
}

/// Forgets every payment, refund, transaction, payout, webhook delivery and stored reply
/// (`POST /sandbox/reset`).
pub async fn reset(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "truncate payments, payment_cancels, transactions, idempotency_keys, payouts,
                  payout_idempotency_keys, webhook_deliveries",
    )
    .execute(pool)
    .await?;
    Ok(())
}
