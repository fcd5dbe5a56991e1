//! `payouts` and `payout_history` rows. Query functions take a connection so callers decide
//! the transaction; every status change goes through [`transition`], an update guarded by
//! [`PayoutStatus::can_become`] that also writes the history row.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::PayoutStatus;
use crate::ids::{PayoutNo, SellerNo};

#[derive(Debug, Clone)]
pub struct PayoutRow {
    pub payout_no: PayoutNo,
    pub seller_no: SellerNo,
    pub amount: Decimal,
    pub status: PayoutStatus,
    pub idempotency_key: Option<String>,
    pub psp_payout_id: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub requested_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Why the last PSP call left it open; operators' (it may name our internals).
    pub last_error: Option<String>,
}

impl PayoutRow {
    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }
}

#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub from_status: Option<PayoutStatus>,
    pub to_status: PayoutStatus,
    pub source: String,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

// The column list is written out in each query (a checked query is a literal). Statuses are
// bound as their text and the guards' status lists `as _` (`&'static str`s, where the checked
// type of a `text[]` is `Vec<String>`).

/// A new REQUESTED payout, due for the recovery job after `grace` (in case the process dies
/// before it asks the PSP).
pub async fn insert(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
    seller_no: SellerNo,
    amount: Decimal,
    idempotency_key: Option<&str>,
    grace_ms: i64,
) -> Result<PayoutRow, sqlx::Error> {
    let row = sqlx::query_as!(
        PayoutRow,
        r#"insert into payouts (payout_no, seller_no, amount, idempotency_key, next_attempt_at)
           values ($1, $2, $3, $4, now() + $5::bigint * interval '1 millisecond')
           returning payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error"#,
        payout_no.0,
        seller_no.0,
        amount,
        idempotency_key,
        grace_ms,
    )
    .fetch_one(&mut *conn)
    .await?;
    history(conn, payout_no, None, PayoutStatus::Requested, "api", None).await?;
    Ok(row)
}

pub async fn find(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"select payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error
             from payouts where payout_no = $1"#,
        payout_no.0,
    )
    .fetch_optional(conn)
    .await
}

/// The payout, row-locked for the caller's transaction.
pub async fn lock(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"select payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error
             from payouts where payout_no = $1 for update"#,
        payout_no.0,
    )
    .fetch_optional(conn)
    .await
}

pub async fn find_by_key(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    key: &str,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"select payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error
             from payouts where seller_no = $1 and idempotency_key = $2"#,
        seller_no.0,
        key,
    )
    .fetch_optional(conn)
    .await
}

/// The seller's payouts, newest first, older than `before` (a payout_no) if given.
pub async fn list(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    before: Option<PayoutNo>,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"select payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error
             from payouts
            where seller_no = $1 and ($2::bigint is null or payout_no < $2)
            order by payout_no desc limit $3"#,
        seller_no.0,
        before.map(|b| b.0),
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn history_of(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as!(
        HistoryRow,
        r#"select from_status as "from_status: PayoutStatus", to_status as "to_status: PayoutStatus",
                  source, detail, created_at
             from payout_history where payout_no = $1 order by id"#,
        payout_no.0,
    )
    .fetch_all(conn)
    .await
}

async fn history(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
    from: Option<PayoutStatus>,
    to: PayoutStatus,
    source: &str,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into payout_history (payout_no, from_status, to_status, source, detail)
         values ($1, $2, $3, $4, $5)",
        payout_no.0,
        from.map(PayoutStatus::as_str),
        to.as_str(),
        source,
        detail,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// What a transition records beside the status.
#[derive(Debug, Default, Clone)]
pub struct Change<'a> {
    pub psp_payout_id: Option<&'a str>,
    pub failure: Option<(&'a str, &'a str)>,
    /// When the job should look next (`None`: a terminal state, nothing to look at).
    pub next_attempt_in_ms: Option<i64>,
    pub detail: Option<&'a str>,
}

/// Moves the payout to `to` if its status may become it ([`PayoutStatus::sources_of`]);
/// `false` if it may not (another path got there first). Writes the history row in the same
/// transaction.
pub async fn transition(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
    to: PayoutStatus,
    source: &str,
    change: &Change<'_>,
) -> Result<bool, sqlx::Error> {
    let from_status = sqlx::query_scalar!(
        r#"with old as (select status from payouts where payout_no = $1 for update)
         update payouts p set status = $3,
                psp_payout_id = coalesce($4, p.psp_payout_id),
                failure_code = coalesce($5, p.failure_code),
                failure_message = coalesce($6, p.failure_message),
                next_attempt_at = now() + $7::bigint * interval '1 millisecond',
                sent_at = case when $3 = 'SENT' then coalesce(p.sent_at, now()) else p.sent_at end,
                completed_at = case when $3 = 'COMPLETED' then now() end,
                failed_at = case when $3 = 'FAILED' then now() end
           from old
          where p.payout_no = $1 and p.status = any($2)
          returning old.status as "status!: PayoutStatus""#,
        payout_no.0,
        PayoutStatus::sources_of(to) as _,
        to.as_str(),
        change.psp_payout_id,
        change.failure.map(|f| f.0),
        change.failure.map(|f| f.1),
        change.next_attempt_in_ms,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(from_status) = from_status else {
        return Ok(false);
    };
    history(
        conn,
        payout_no,
        Some(from_status),
        to,
        source,
        change.detail,
    )
    .await?;
    Ok(true)
}

/// Counts a PSP call that left the payout open and sets when to look next.
pub async fn record_attempt(
    conn: &mut PgConnection,
    payout_no: PayoutNo,
    next_in_ms: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payouts set attempts = attempts + 1, last_error = coalesce($3, last_error),
                next_attempt_at = now() + $2::bigint * interval '1 millisecond'
          where payout_no = $1 and status = any($4)",
        payout_no.0,
        next_in_ms,
        error,
        PayoutStatus::open() as _,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Claims up to `limit` open payouts that are due: their next look is pushed `claim_ms` ahead
/// in the same statement, so another instance's job does not take them meanwhile.
pub async fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    claim_ms: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        r#"update payouts set next_attempt_at = now() + $2::bigint * interval '1 millisecond'
            where payout_no in (
                  select payout_no from payouts
                   where status = any($3) and next_attempt_at <= now()
                   order by next_attempt_at limit $1 for update skip locked)
            returning payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error"#,
        limit,
        claim_ms,
        PayoutStatus::open() as _,
    )
    .fetch_all(conn)
    .await
}

/// Open payouts requested more than `after_secs` ago, oldest first (at most `limit`):
/// `GET /admin/payouts/unresolved`.
pub async fn unresolved(
    conn: &mut PgConnection,
    after_secs: f64,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as!(
        PayoutRow,
        // the partial index's own predicate, so only open payouts are read
        r#"select payout_no as "payout_no: PayoutNo", seller_no as "seller_no: SellerNo", amount,
                  status as "status: PayoutStatus", idempotency_key, psp_payout_id, failure_code,
                  failure_message, attempts, next_attempt_at, requested_at, sent_at, completed_at,
                  failed_at, updated_at, last_error
             from payouts
            where status in ('REQUESTED', 'SENT', 'UNKNOWN')
              and requested_at < now() - make_interval(secs => $1)
            order by requested_at limit $2"#,
        after_secs,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// How many payouts [`unresolved`] would list: the `payouts_unresolved` gauge.
pub async fn count_unresolved(
    conn: &mut PgConnection,
    after_secs: f64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from payouts
            where status in ('REQUESTED', 'SENT', 'UNKNOWN')
              and requested_at < now() - make_interval(secs => $1)"#,
        after_secs,
    )
    .fetch_one(conn)
    .await
}
