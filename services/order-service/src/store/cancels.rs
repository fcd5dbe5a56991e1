//! Cancel rows (`payment_cancels`, `payment_cancel_lines`) and the refund of lines.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::status::CancelStatus;

#[derive(Debug, Clone)]
pub struct CancelRow {
    pub cancel_no: i64,
    pub payment_event_no: i64,
    pub order_id: String,
    pub request_hash: String,
    pub cancel_reason: String,
    pub cancel_amount: Decimal,
    pub status: CancelStatus,
    pub attempts: i32,
    pub failure_code: Option<String>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub event_id: Option<uuid::Uuid>,
    pub is_wallet_done: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CancelLineRow {
    pub payment_order_no: i64,
    pub amount: Decimal,
}

// The column list is written out in each query (a checked query is a literal).

pub struct NewCancel<'a> {
    pub cancel_no: i64,
    pub payment_event_no: i64,
    pub order_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a str,
    pub reason: &'a str,
    pub amount: Decimal,
    /// The recovery job leaves the cancel to its requester this long.
    pub stale_secs: f64,
    /// Who opened it, for its history (`cancel-api`, `success-page`, `reconciliation`, …).
    pub actor: &'a str,
}

/// Inserts the cancel, its first history row and its lines. Fails on `payment_cancels_one_open_idx` when another
/// cancel of the order is open, on `payment_cancels_idempotency_key_key` for a reused key.
pub async fn insert(
    conn: &mut PgConnection,
    new: NewCancel<'_>,
    lines: &[(i64, Decimal)],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with opened as (
            insert into payment_cancels (cancel_no, payment_event_no, order_id, idempotency_key,
                   request_hash, cancel_reason, cancel_amount, next_attempt_at)
            values ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
            returning cancel_no, status
         )
         insert into payment_cancel_histories (cancel_no, new_status, reason, changed_by)
         select cancel_no, status, 'CANCEL_REQUESTED', $9 from opened",
        new.cancel_no,
        new.payment_event_no,
        new.order_id,
        new.idempotency_key,
        new.request_hash,
        new.reason,
        new.amount,
        new.stale_secs,
        new.actor,
    )
    .execute(&mut *conn)
    .await?;
    let nos: Vec<i64> = lines.iter().map(|l| l.0).collect();
    let amounts: Vec<Decimal> = lines.iter().map(|l| l.1).collect();
    sqlx::query!(
        "insert into payment_cancel_lines (cancel_no, payment_order_no, amount)
         select $1, no, amount from unnest($2::bigint[], $3::numeric[]) as l(no, amount)",
        new.cancel_no,
        &nos,
        &amounts,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn find(
    conn: &mut PgConnection,
    cancel_no: i64,
) -> Result<Option<CancelRow>, sqlx::Error> {
    sqlx::query_as!(
        CancelRow,
        "select cancel_no, payment_event_no, order_id, request_hash, cancel_reason, cancel_amount,
                status as \"status: CancelStatus\", attempts, failure_code, canceled_at, event_id,
                is_wallet_done, created_at from payment_cancels where cancel_no = $1",
        cancel_no,
    )
    .fetch_optional(conn)
    .await
}

pub async fn find_by_key(
    conn: &mut PgConnection,
    payment_event_no: i64,
    idempotency_key: &str,
) -> Result<Option<CancelRow>, sqlx::Error> {
    sqlx::query_as!(
        CancelRow,
        "select cancel_no, payment_event_no, order_id, request_hash, cancel_reason, cancel_amount,
                status as \"status: CancelStatus\", attempts, failure_code, canceled_at, event_id,
                is_wallet_done, created_at from payment_cancels
          where payment_event_no = $1 and idempotency_key = $2",
        payment_event_no,
        idempotency_key,
    )
    .fetch_optional(conn)
    .await
}

pub async fn list(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<Vec<CancelRow>, sqlx::Error> {
    sqlx::query_as!(
        CancelRow,
        "select cancel_no, payment_event_no, order_id, request_hash, cancel_reason, cancel_amount,
                status as \"status: CancelStatus\", attempts, failure_code, canceled_at, event_id,
                is_wallet_done, created_at from payment_cancels where payment_event_no = $1
          order by created_at, cancel_no",
        payment_event_no,
    )
    .fetch_all(conn)
    .await
}

pub async fn lines(
    conn: &mut PgConnection,
    cancel_no: i64,
) -> Result<Vec<CancelLineRow>, sqlx::Error> {
    sqlx::query_as!(
        CancelLineRow,
        "select payment_order_no, amount from payment_cancel_lines where cancel_no = $1
          order by payment_order_no",
        cancel_no,
    )
    .fetch_all(conn)
    .await
}

/// Open cancels whose requester is gone or whose last call had no answer, claimed for one
/// more call by pushing `next_attempt_at` out by `stale_secs`; each with the time its claim
/// runs to, which [`super::cancel_states::renew_claim`] takes as proof the claim is still ours.
pub async fn claim_due(
    conn: &mut PgConnection,
    stale_secs: f64,
    limit: i64,
) -> Result<Vec<(i64, DateTime<Utc>)>, sqlx::Error> {
    let claimed = sqlx::query!(
        "update payment_cancels set next_attempt_at = now() + make_interval(secs => $1)
          where cancel_no in (
                select cancel_no from payment_cancels
                 where status in ('REQUESTED', 'UNKNOWN') and next_attempt_at <= now()
                 order by next_attempt_at limit $2
                 for update skip locked)
          returning cancel_no, next_attempt_at",
        stale_secs,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(claimed
        .into_iter()
        .map(|c| (c.cancel_no, c.next_attempt_at))
        .collect())
}

/// Claims one open cancel for a drive, as [`claim_due`] does for recovery's batch: only when
/// it is due (no drive holds it: the API's first call, recovery's) and still open; its next
/// look is pushed `stale_secs` ahead in the same statement. False when it is not ours to drive.
pub async fn claim_one(
    conn: &mut PgConnection,
    cancel_no: i64,
    stale_secs: f64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query_scalar!(
        "update payment_cancels set next_attempt_at = now() + make_interval(secs => $2)
          where cancel_no = $1 and status in ('REQUESTED', 'UNKNOWN') and next_attempt_at <= now()
          returning cancel_no",
        cancel_no,
        stale_secs,
    )
    .fetch_optional(conn)
    .await?;
    Ok(claimed.is_some())
}

/// The PSP transaction keys the order's other cancels have recorded (done ones, imported
/// refunds): refunds in the PSP's record that are already another cancel's. `except` is the
/// cancel being matched: a second drive of it, racing the one that completed it, must still
/// find its own refund (and not call again, which a PSP that forgot the key takes as new).
pub async fn recorded_transaction_keys(
    conn: &mut PgConnection,
    payment_event_no: i64,
    except: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select psp_transaction_key as "key!" from payment_cancels
            where payment_event_no = $1 and cancel_no <> $2 and psp_transaction_key is not null"#,
        payment_event_no,
        except,
    )
    .fetch_all(conn)
    .await
}

/// Applies a done cancel to its lines (refunded amount, status, one history row per line)
/// and to the event's refunded total, in the caller's transaction.
pub async fn refund_lines(
    conn: &mut PgConnection,
    history_ids: &[i64],
    cancel_no: i64,
    actor: &str,
) -> Result<u64, sqlx::Error> {
    let changed = sqlx::query!(
        "with changed as (
            update payment_orders o
               set refunded_amount = o.refunded_amount + c.amount,
                   status = case when o.refunded_amount + c.amount = o.amount
                                 then 'CANCELED' else 'PARTIAL_CANCELED' end
              from payment_cancel_lines c, payment_orders p
             where c.cancel_no = $1 and o.payment_order_no = c.payment_order_no
               and p.payment_order_no = o.payment_order_no
               and o.status in ('SUCCESS', 'PARTIAL_CANCELED')
         returning o.payment_order_no, p.status as previous_status, o.status as new_status
         ), numbered as (
            select c.*, row_number() over (order by c.payment_order_no) as n from changed c
         )
         insert into payment_order_histories (id, payment_order_no, previous_status, new_status, reason, changed_by)
         select ($2::bigint[])[n], payment_order_no, previous_status, new_status,
                'CANCEL_' || $1::text, $3 from numbered",
        cancel_no,
        history_ids,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update payment_events e set refunded_amount = e.refunded_amount + c.cancel_amount
           from payment_cancels c where c.cancel_no = $1 and e.payment_event_no = c.payment_event_no",
        cancel_no,
    )
    .execute(conn)
    .await?;
    Ok(changed.rows_affected())
}

pub async fn mark_wallet_done(conn: &mut PgConnection, cancel_no: i64) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update payment_cancels set is_wallet_done = true
          where cancel_no = $1 and status = 'DONE' and not is_wallet_done",
        cancel_no,
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// [`mark_wallet_done`] of many cancels in one statement (wallet_completion.rs).
pub async fn mark_wallets_done(
    conn: &mut PgConnection,
    cancel_nos: &[i64],
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update payment_cancels set is_wallet_done = true
          where cancel_no = any($1) and status = 'DONE' and not is_wallet_done",
        cancel_nos,
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// Done cancels whose reversal has not come back after `after_secs` (doubled per re-drive, up
/// to 32×, as orders' in `recovery::claim_unsettled`), claimed for one re-drive. A cancel whose
/// event — first sent or re-driven — still waits in our own outbox is left to the relay.
pub async fn claim_unreversed(
    conn: &mut PgConnection,
    after_secs: f64,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "update payment_cancels set redrive_count = redrive_count + 1, updated_at = now()
          where cancel_no in (
                select cancel_no from payment_cancels
                 where status = 'DONE' and not is_wallet_done
                   and updated_at
                       < now() - make_interval(secs => $1 * power(2, least(redrive_count, 5)))
                   and not exists (select 1 from outbox
                                    where outbox.status <> 'SUCCESS'
                                      and split_part(outbox.idempotency_key, '-redrive-', 1)
                                          = payment_cancels.event_id::text)
                 order by updated_at limit $2
                 for update skip locked)
          returning cancel_no",
        after_secs,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Makes the order's cancels whose outcome is unknown due (a webhook said one changed): now,
/// or 10 s after the cancel's last change — `stale_secs` (the recovery's claim, `claim_due`,
/// which is a change) when longer, so a webhook never cuts a running drive's claim short;
/// `None` when none is open or each is due sooner already. The webhook is unauthenticated:
/// before stop 21 each one made the cancel due at once, so a flood of them was a flood of PSP
/// cancel calls and of drives running side by side.
pub async fn make_due_now(
    conn: &mut PgConnection,
    order_id: &str,
    stale_secs: f64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let due = sqlx::query_scalar!(
        r#"with c as (
             select cancel_no,
                    greatest(now(), updated_at + make_interval(secs => greatest(10, $2::float8))) as due
               from payment_cancels
              where order_id = $1 and status = 'UNKNOWN'
           )
           update payment_cancels p set next_attempt_at = c.due
             from c
            where p.cancel_no = c.cancel_no and p.next_attempt_at > c.due
        returning p.next_attempt_at"#,
        order_id,
        stale_secs,
    )
    .fetch_all(conn)
    .await?;
    Ok(due.into_iter().min())
}

/// Open cancels with at least `threshold` unknown outcomes, oldest first.
pub async fn unresolved(
    conn: &mut PgConnection,
    threshold: i32,
    limit: i64,
) -> Result<Vec<CancelRow>, sqlx::Error> {
    sqlx::query_as!(
        CancelRow,
        "select cancel_no, payment_event_no, order_id, request_hash, cancel_reason, cancel_amount,
                status as \"status: CancelStatus\", attempts, failure_code, canceled_at, event_id,
                is_wallet_done, created_at from payment_cancels
          where status in ('REQUESTED', 'UNKNOWN') and attempts >= $1
          order by created_at limit $2",
        threshold,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// How many cancels [`unresolved`] would list without its limit (the gauge read a listing of
/// at most 1,000 and never showed more).
pub async fn count_unresolved(conn: &mut PgConnection, threshold: i32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from payment_cancels
            where status in ('REQUESTED', 'UNKNOWN') and attempts >= $1"#,
        threshold,
    )
    .fetch_one(conn)
    .await
}
