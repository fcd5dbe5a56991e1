//! Payments and refunds in the sandbox's database. Every change of a payment is one guarded
//! update inside the caller's transaction, together with its rows in `transactions` (and
//! `payment_cancels`), so the transaction log can never disagree with the payments.

use chrono::{DateTime, FixedOffset, Utc};
use sqlx::{postgres::PgRow, PgConnection, PgPool, Row};

use crate::{
    amount::Amount,
    errors::TossError,
    payment::{kst, CancelRecord, PaymentRecord, PaymentStatus},
};

const COLUMNS: &str = "payment_key, order_id, order_name, total_amount, balance_amount, status, \
                       requested_at, approved_at, last_transaction_key, approve_no, \
                       failure_code, failure_message";

fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("payments: {what}").into())
}

fn record(row: &PgRow) -> Result<PaymentRecord, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let status = PaymentStatus::parse(&status).ok_or_else(|| decode_error(&status))?;
    let code: Option<String> = row.try_get("failure_code")?;
    let message: Option<String> = row.try_get("failure_message")?;
    let approved_at: Option<DateTime<Utc>> = row.try_get("approved_at")?;
    Ok(PaymentRecord {
        payment_key: row.try_get("payment_key")?,
        order_id: row.try_get("order_id")?,
        order_name: row.try_get("order_name")?,
        amount: Amount(row.try_get("total_amount")?),
        balance: row.try_get("balance_amount")?,
        status,
        requested_at: kst(row.try_get("requested_at")?),
        approved_at: approved_at.map(kst),
        last_transaction_key: row.try_get("last_transaction_key")?,
        approve_no: row.try_get("approve_no")?,
        failure: code.map(|code| TossError {
            code,
            message: message.unwrap_or_default(),
        }),
        cancels: Vec::new(),
    })
}

async fn cancels(
    conn: &mut PgConnection,
    payment_key: &str,
) -> Result<Vec<CancelRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "select transaction_key, cancel_amount, cancel_reason, refundable_amount, receipt_key, \
         canceled_at from payment_cancels where payment_key = $1 order by seq",
    )
    .bind(payment_key)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CancelRecord {
                transaction_key: row.try_get("transaction_key")?,
                amount: Amount(row.try_get("cancel_amount")?),
                reason: row.try_get("cancel_reason")?,
                refundable: row.try_get("refundable_amount")?,
                receipt_key: row.try_get("receipt_key")?,
                canceled_at: kst(row.try_get("canceled_at")?),
            })
        })
        .collect()
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
    let (column, value) = match by {
        By::PaymentKey(key) => ("payment_key", key),
        By::OrderId(id) => ("order_id", id),
    };
    let suffix = if lock { " for update" } else { "" };
    let sql = format!("select {COLUMNS} from payments where {column} = $1{suffix}");
    let Some(row) = sqlx::query(&sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut payment = record(&row)?;
    payment.cancels = cancels(conn, &payment.payment_key).await?;
    Ok(Some(payment))
}

/// The orderId of a paymentKey (to count a cancel call per order before it is evaluated).
pub async fn order_of(pool: &PgPool, payment_key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select order_id from payments where payment_key = $1")
        .bind(payment_key)
        .fetch_optional(pool)
        .await
}

/// Inserts a READY payment; false if the orderId (or, very unlikely, the key) exists.
pub async fn insert_ready(pool: &PgPool, p: &PaymentRecord) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into payments (payment_key, order_id, order_name, total_amount, balance_amount, \
         requested_at) values ($1, $2, $3, $4, $4, $5) on conflict do nothing",
    )
    .bind(&p.payment_key)
    .bind(&p.order_id)
    .bind(&p.order_name)
    .bind(p.amount.0)
    .bind(p.requested_at)
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
    sqlx::query(
        "insert into transactions (transaction_key, payment_key, order_id, status, amount, \
         transaction_at) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(transaction_key)
    .bind(&p.payment_key)
    .bind(&p.order_id)
    .bind(status.as_str())
    .bind(amount)
    .bind(at)
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
    let updated = sqlx::query(
        "update payments set status = 'DONE', approved_at = $2, last_transaction_key = $3, \
         approve_no = $4 where payment_key = $1 and status = 'READY'",
    )
    .bind(&p.payment_key)
    .bind(at)
    .bind(&transaction_key)
    .bind(&approve_no)
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
    let updated = sqlx::query(
        "update payments set status = 'ABORTED', failure_code = $2, failure_message = $3 \
         where payment_key = $1 and status = 'READY'",
    )
    .bind(payment_key)
    .bind(&failure.code)
    .bind(&failure.message)
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
    sqlx::query(
        "insert into payment_cancels (transaction_key, payment_key, cancel_amount, \
         cancel_reason, refundable_amount, receipt_key, canceled_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&cancel.transaction_key)
    .bind(&p.payment_key)
    .bind(cancel.amount.0)
    .bind(&cancel.reason)
    .bind(cancel.refundable)
    .bind(&cancel.receipt_key)
    .bind(cancel.canceled_at)
    .execute(&mut *conn)
    .await?;
    // The balance guard repeats the caller's check in SQL: a refund can never overdraw.
    let updated = sqlx::query(
        "update payments set balance_amount = balance_amount - $2, status = $3, \
         last_transaction_key = $4 where payment_key = $1 and balance_amount >= $2 \
         and status in ('DONE', 'PARTIAL_CANCELED')",
    )
    .bind(&p.payment_key)
    .bind(cancel.amount.0)
    .bind(status.as_str())
    .bind(&cancel.transaction_key)
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
    sqlx::query(
        "truncate payments, payment_cancels, transactions, idempotency_keys, payouts, \
         payout_idempotency_keys, webhook_deliveries",
    )
    .execute(pool)
    .await?;
    Ok(())
}
