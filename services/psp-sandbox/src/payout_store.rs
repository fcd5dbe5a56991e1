//! Payouts and their Idempotency-Key replies in the sandbox's database.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use crate::{
    errors::TossError,
    payment::kst,
    payout::{PayoutRecord, PayoutStatus, ScheduleType},
};

fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("payouts: {what}").into())
}

/// A `payouts` row as the checked queries read it.
struct PayoutRow {
    id: String,
    ref_payout_id: String,
    destination: String,
    schedule_type: ScheduleType,
    payout_date: NaiveDate,
    amount: i64,
    transaction_description: String,
    metadata: Option<Value>,
    status: PayoutStatus,
    requested_at: DateTime<Utc>,
    error_code: Option<String>,
    error_message: Option<String>,
}

impl From<PayoutRow> for PayoutRecord {
    fn from(row: PayoutRow) -> Self {
        Self {
            id: row.id,
            ref_payout_id: row.ref_payout_id,
            destination: row.destination,
            schedule_type: row.schedule_type,
            payout_date: row.payout_date,
            amount: row.amount,
            transaction_description: row.transaction_description,
            metadata: row.metadata,
            status: row.status,
            requested_at: kst(row.requested_at),
            error: row.error_code.map(|code| TossError {
                code,
                message: row.error_message.unwrap_or_default(),
            }),
        }
    }
}

/// A checked query reading `PayoutRow`s: `$head`, every `PayoutRow` column, `$tail` (sqlx
/// joins string literals written with `+`), so the lookups and the settling share the list.
macro_rules! payout_rows {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            PayoutRow,
            $head
                + r#" id, ref_payout_id, destination,
                      schedule_type as "schedule_type: ScheduleType", payout_date, amount,
                      transaction_description, metadata, status as "status: PayoutStatus",
                      requested_at, error_code, error_message "#
                + $tail
            $(, $arg)*
        )
    };
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
    // `$10::timestamptz`: the one parameter is both a column's value and an operand.
    sqlx::query!(
        "insert into payouts (id, merchant, ref_payout_id, destination, schedule_type,
                              payout_date, amount, transaction_description, metadata,
                              requested_at, due_at, planned_error_code, planned_error_message)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                 $10::timestamptz + make_interval(secs => $11::float8 / 1000), $12, $13)
         on conflict (merchant, ref_payout_id) do nothing",
        p.id,
        merchant,
        p.ref_payout_id,
        p.destination,
        p.schedule_type.as_str(),
        p.payout_date,
        p.amount,
        p.transaction_description,
        p.metadata,
        p.requested_at,
        new.delay_ms as f64,
        code,
        message,
    )
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
    let row = payout_rows!(
        "select",
        "from payouts where merchant = $1 and id = $2",
        merchant,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(PayoutRecord::from))
}

pub async fn find_by_ref(
    conn: &mut PgConnection,
    merchant: &str,
    ref_payout_id: &str,
) -> Result<Option<PayoutRecord>, sqlx::Error> {
    let row = payout_rows!(
        "select",
        "from payouts where merchant = $1 and ref_payout_id = $2",
        merchant,
        ref_payout_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(PayoutRecord::from))
}

/// The merchant's most recent payouts, newest first.
pub async fn recent(
    conn: &mut PgConnection,
    merchant: &str,
    limit: i64,
) -> Result<Vec<PayoutRecord>, sqlx::Error> {
    let rows = payout_rows!(
        "select",
        "from payouts where merchant = $1 order by requested_at desc, id desc limit $2",
        merchant,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(PayoutRecord::from).collect())
}

/// Settles up to `limit` REQUESTED payouts that are due: COMPLETED, or FAILED with the error
/// planned for them. Rows another sandbox on the same database is settling are skipped.
pub async fn settle_due(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<PayoutRecord>, sqlx::Error> {
    let rows = payout_rows!(
        "update payouts set status = case when planned_error_code is null then 'COMPLETED'
                                          else 'FAILED' end,
                            error_code = planned_error_code,
                            error_message = planned_error_message, settled_at = now()
          where id in (select id from payouts where status = 'REQUESTED' and due_at <= now()
                        order by due_at limit $1 for update skip locked)
         returning",
        "",
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(PayoutRecord::from).collect())
}

/// When the next REQUESTED payout is due.
pub async fn next_due(conn: &mut PgConnection) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!("select min(due_at) from payouts where status = 'REQUESTED'")
        .fetch_one(conn)
        .await
}

/// The stored reply of an Idempotency-Key.
pub async fn stored_reply(
    conn: &mut PgConnection,
    merchant: &str,
    key: &str,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar!(
        "select response_body from payout_idempotency_keys
          where merchant = $1 and idempotency_key = $2",
        merchant,
        key,
    )
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
    let stored = sqlx::query!(
        "insert into payout_idempotency_keys (merchant, idempotency_key, response_body)
         values ($1, $2, $3) on conflict do nothing",
        merchant,
        key,
        body,
    )
    .execute(conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}
