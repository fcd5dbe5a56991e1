//! The guarded moves of an open cancel (REQUESTED or UNKNOWN) and their history
//! (`payment_cancel_histories`, migration 20261231000001): each statement locks the open
//! cancel, reads the status it leaves, changes it and writes the history row, so no move goes
//! unrecorded and none is recorded that did not happen. The row that opens a cancel is written
//! with it (cancels.rs `insert`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::status::CancelStatus;

/// One status a cancel took.
#[derive(Debug, Clone)]
pub struct CancelChange {
    pub cancel_no: i64,
    pub previous_status: Option<String>,
    pub new_status: String,
    pub reason: String,
    pub changed_by: String,
    pub created_at: DateTime<Utc>,
}

/// How an open cancel ends: DONE with the PSP's transaction key and the event, or REJECTED
/// with the PSP's code.
pub struct Closing<'a> {
    pub next: CancelStatus,
    pub failure_code: Option<&'a str>,
    pub transaction_key: Option<&'a str>,
    pub event_id: Option<uuid::Uuid>,
    pub actor: &'a str,
}

/// A guarded move of an open cancel to `closing.next`; false when it was no longer open.
pub async fn close(
    conn: &mut PgConnection,
    cancel_no: i64,
    closing: Closing<'_>,
) -> Result<bool, sqlx::Error> {
    Ok(close_returning(conn, cancel_no, closing).await?.is_some())
}

/// [`close`] that answers the row's `canceled_at` (the database's clock, which the event and
/// any re-drive of it carry), `None` when the cancel was no longer open.
pub async fn close_returning(
    conn: &mut PgConnection,
    cancel_no: i64,
    closing: Closing<'_>,
) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error> {
    // `open` locks the row and reads it as committed after any wait, so its status is the one
    // this move leaves (a self-join in the update would read the version before the wait).
    sqlx::query_scalar!(
        "with open as (
            select cancel_no, status from payment_cancels
             where cancel_no = $1 and status in ('REQUESTED', 'UNKNOWN') for update
         ), closed as (
            update payment_cancels c
               set status = $2, failure_code = $3, psp_transaction_key = $4, event_id = $5,
                   canceled_at = case when $2 = 'DONE' then now() end
              from open
             where c.cancel_no = open.cancel_no
            returning c.cancel_no, open.status as previous, c.canceled_at
         ), history as (
            insert into payment_cancel_histories (cancel_no, previous_status, new_status, reason,
                                                  changed_by)
            select cancel_no, previous, $2, coalesce($3, 'PSP_REFUNDED'), $6 from closed
         )
         select canceled_at from closed",
        cancel_no,
        closing.next.as_str(),
        closing.failure_code,
        closing.transaction_key,
        closing.event_id,
        closing.actor,
    )
    .fetch_optional(conn)
    .await
}

/// The PSP did not answer, or its answer could not be recorded (`reason`): UNKNOWN, looked at
/// again after `retry_secs`. Every such outcome is a history row, so the answers of each
/// attempt stay readable after the cancel is closed.
pub async fn mark_unknown(
    conn: &mut PgConnection,
    cancel_no: i64,
    reason: &str,
    retry_secs: f64,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with open as (
            select cancel_no, status from payment_cancels
             where cancel_no = $1 and status in ('REQUESTED', 'UNKNOWN') for update
         ), marked as (
            update payment_cancels c
               set status = 'UNKNOWN', attempts = c.attempts + 1, failure_code = $2,
                   next_attempt_at = now() + make_interval(secs => $3)
              from open
             where c.cancel_no = open.cancel_no
            returning c.cancel_no, open.status as previous
         )
         insert into payment_cancel_histories (cancel_no, previous_status, new_status, reason,
                                               changed_by)
         select cancel_no, previous, 'UNKNOWN', $2, $4 from marked",
        cancel_no,
        reason,
        retry_secs,
        actor,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// The history of every cancel of the order, oldest first.
pub async fn history(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<Vec<CancelChange>, sqlx::Error> {
    sqlx::query_as!(
        CancelChange,
        "select h.cancel_no, h.previous_status, h.new_status, h.reason, h.changed_by, h.created_at
           from payment_cancel_histories h join payment_cancels c using (cancel_no)
          where c.payment_event_no = $1
          order by h.id",
        payment_event_no,
    )
    .fetch_all(conn)
    .await
}

/// Claims an open cancel for an operator's resolution (cancels/resolve.rs) when nothing has
/// touched it for `quiet_secs`: a drive's claim and its end both write the row, so an older
/// row has no drive under way, whatever its `next_attempt_at` says (a drive can outlast its
/// lease). Its next look is pushed `lease_secs` ahead, as any drive's claim does.
pub async fn claim_idle(
    conn: &mut PgConnection,
    cancel_no: i64,
    lease_secs: f64,
    quiet_secs: f64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query_scalar!(
        "update payment_cancels set next_attempt_at = now() + make_interval(secs => $2)
          where cancel_no = $1 and status in ('REQUESTED', 'UNKNOWN')
            and updated_at < now() - make_interval(secs => $3)
          returning cancel_no",
        cancel_no,
        lease_secs,
        quiet_secs,
    )
    .fetch_optional(conn)
    .await?;
    Ok(claimed.is_some())
}

/// Renews a claim of recovery's batch ([`super::cancels::claim_due`]) just before its drive:
/// one lease covers a whole batch, and a batch of slow drives (a lookup, a call and a second
/// lookup, each up to the PSP timeout) outlasted it, so another instance or reconciliation
/// claimed a cancel still waiting its turn and both drove it. True, with the lease pushed out
/// again, only while the cancel still carries the time this claim set.
pub async fn renew_claim(
    conn: &mut PgConnection,
    cancel_no: i64,
    claimed_until: DateTime<Utc>,
    lease_secs: f64,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query_scalar!(
        "update payment_cancels set next_attempt_at = now() + make_interval(secs => $3)
          where cancel_no = $1 and next_attempt_at = $2 and status in ('REQUESTED', 'UNKNOWN')
          returning cancel_no",
        cancel_no,
        claimed_until,
        lease_secs,
    )
    .fetch_optional(conn)
    .await?;
    Ok(renewed.is_some())
}
