//! Payouts and their Idempotency-Key replies in the sandbox's database.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{postgres::PgRow, PgConnection, Row};

use crate::{
    errors::TossError,
    payment::kst,
    payout::{PayoutRecord, PayoutStatus, ScheduleType},
};

const COLUMNS: &str = "id, ref_payout_id, destination, schedule_type, payout_date, amount, \
                       transaction_description, metadata, status, requested_at, error_code, \
                       error_message";

fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("payouts: {what}").into())
}

fn record(row: &PgRow) -> Result<PayoutRecord, sqlx::Error> {
    let kind: String = row.try_get("schedule_type")?;
    let status: String = row.try_get("status")?;
    let code: Option<String> = row.try_get("error_code")?;
    let message: Option<String> = row.try_get("error_message")?;
    let requested_at: DateTime<Utc> = row.try_get("requested_at")?;
    Ok(PayoutRecord {
        id: row.try_get("id")?,
        ref_payout_id: row.try_get("ref_payout_id")?,
        destination: row.try_get("destination")?,
        schedule_type: ScheduleType::parse(&kind).ok_or_else(|| decode_error(&kind))?,
        payout_date: row.try_get("payout_date")?,
        amount: row.try_get("amount")?,
        transaction_description: row.try_get("transaction_description")?,
        metadata: row.try_get("metadata")?,
        status: PayoutStatus::parse(&status).ok_or_else(|| decode_error(&status))?,
        requested_at: kst(requested_at),
        error: code.map(|code| TossError {
            code,
            message: message.unwrap_or_default(),
        }),
    })
}

/// A new payout with what was decided for it when it was asked for.
pub struct NewPayout<'a> {
    pub record: &'a PayoutRecord,
    /// `(code, message)` it will FAIL with, if a fault said so.
    pub planned_error: Option<(String, String)>,
    pub delay_ms: i64,
}

/// Inserts a REQUESTED payout unless the merchant has one with its refPayoutId; either way
/// answers the payout stored under that refPayoutId.
pub async fn insert_or_existing(
    conn: &mut PgConnection,
    merchant: &str,
    new: NewPayout<'_>,
) -> Result<PayoutRecord, sqlx::Error> {
    let p = new.record;
    let (code, message) = new.planned_error.unzip();
    sqlx::query(
        "insert into payouts (id, merchant, ref_payout_id, destination, schedule_type, \
         payout_date, amount, transaction_description, metadata, requested_at, due_at, \
         planned_error_code, planned_error_message) values ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $10 + make_interval(secs => $11::float8 / 1000), $12, $13) \
         on conflict (merchant, ref_payout_id) do nothing",
    )
    .bind(&p.id)
    .bind(merchant)
    .bind(&p.ref_payout_id)
    .bind(&p.destination)
    .bind(p.schedule_type.as_str())
    .bind(p.payout_date)
    .bind(p.amount)
    .bind(&p.transaction_description)
    .bind(&p.metadata)
    .bind(p.requested_at)
    .bind(new.delay_ms as f64)
    .bind(code)
    .bind(message)
    .execute(&mut *conn)
    .await?;
    find_by_ref(conn, merchant, &p.ref_payout_id)
        .await?
        .ok_or_else(|| decode_error("inserted payout not found"))
}

pub async fn find_by_id(
    conn: &mut PgConnection,
    merchant: &str,
    id: &str,
) -> Result<Option<PayoutRecord>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from payouts where merchant = $1 and id = $2");
    let row = sqlx::query(&sql)
        .bind(merchant)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(record).transpose()
}

pub async fn find_by_ref(
    conn: &mut PgConnection,
    merchant: &str,
    ref_payout_id: &str,
) -> Result<Option<PayoutRecord>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from payouts where merchant = $1 and ref_payout_id = $2");
    let row = sqlx::query(&sql)
        .bind(merchant)
        .bind(ref_payout_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(record).transpose()
}

/// The merchant's most recent payouts, newest first.
pub async fn recent(
    conn: &mut PgConnection,
    merchant: &str,
    limit: i64,
) -> Result<Vec<PayoutRecord>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from payouts where merchant = $1 \
         order by requested_at desc, id desc limit $2"
    );
    let rows = sqlx::query(&sql)
        .bind(merchant)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(record).collect()
}

/// Settles up to `limit` REQUESTED payouts that are due: COMPLETED, or FAILED with the error
/// planned for them. Rows another sandbox on the same database is settling are skipped.
pub async fn settle_due(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<PayoutRecord>, sqlx::Error> {
    let sql = format!(
        "update payouts set status = case when planned_error_code is null then 'COMPLETED' \
         else 'FAILED' end, error_code = planned_error_code, \
         error_message = planned_error_message, settled_at = now() \
         where id in (select id from payouts where status = 'REQUESTED' and due_at <= now() \
         order by due_at limit $1 for update skip locked) returning {COLUMNS}"
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(conn).await?;
    rows.iter().map(record).collect()
}

/// When the next REQUESTED payout is due.
pub async fn next_due(conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select min(due_at) from payouts where status = 'REQUESTED'")
        .fetch_one(conn)
        .await
}

/// The stored reply of an Idempotency-Key.
pub async fn stored_reply(
    conn: &mut PgConnection,
    merchant: &str,
    key: &str,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar(
        "select response_body from payout_idempotency_keys \
         where merchant = $1 and idempotency_key = $2",
    )
    .bind(merchant)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Stores the reply of an Idempotency-Key; false if another request stored one first.
pub async fn store_reply(
    conn: &mut PgConnection,
    merchant: &str,
    key: &str,
    body: &Value,
) -> Result<bool, sqlx::Error> {
    let stored = sqlx::query(
        "insert into payout_idempotency_keys (merchant, idempotency_key, response_body) \
         values ($1, $2, $3) on conflict do nothing",
    )
    .bind(merchant)
    .bind(key)
    .bind(body)
    .execute(conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}
