//! Payment events, their lines and the history of every status change. Query functions take a
//! connection so handlers own the transaction. [`recovery`] holds the scans of the recovery
//! and re-drive jobs, [`cancels`] the cancel rows.

#[cfg(test)]
mod cancel_claims_tests;
pub mod cancel_states;
pub mod cancels;
pub mod ledgers;
pub mod orders;
pub mod reconciliation;
#[cfg(test)]
mod reconciliation_tests;
pub mod recovery;
#[cfg(test)]
mod recovery_scan_tests;
pub mod recovery_watch;
#[cfg(test)]
mod redrive_claims_tests;
#[cfg(test)]
mod scratch;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::status::PaymentStatus;

#[derive(Debug, Clone)]
pub struct PaymentEventRow {
    pub payment_event_no: i64,
    pub member_no: i64,
    pub order_id: String,
    pub order_name: String,
    pub payment_key: Option<String>,
    pub method: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub is_payment_done: bool,
    pub is_wallet_done: bool,
    pub total_amount: Decimal,
    /// `KRW`, the only currency for now (the table's check); a PSP answer in another is not
    /// a charge of this order.
    pub currency: String,
    pub refunded_amount: Decimal,
    /// The fencing token of the current (or last) attempt at the PSP.
    pub attempt_no: Option<i64>,
    pub confirmed_event_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct PaymentOrderRow {
    pub payment_order_no: i64,
    pub product_no: i64,
    pub seller_no: i64,
    pub product_name: String,
    pub amount: Decimal,
    pub refunded_amount: Decimal,
    pub status: PaymentStatus,
    pub failed_count: i32,
    pub threshold: i32,
}

#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub payment_order_no: i64,
    pub previous_status: Option<String>,
    pub new_status: String,
    pub reason: String,
    pub changed_by: String,
    pub created_at: DateTime<Utc>,
}

pub struct NewLine {
    pub payment_order_no: i64,
    pub product_no: i64,
    pub seller_no: i64,
    pub product_name: String,
    pub amount: Decimal,
}

// The column lists are written out in each query (a checked query is a literal); `status`
// names its Rust type, so an unknown value fails the row's decoding.

/// The event by order id, locked for the caller's transaction when `for_update`.
pub async fn find_event(
    conn: &mut PgConnection,
    order_id: &str,
    for_update: bool,
) -> Result<Option<PaymentEventRow>, sqlx::Error> {
    if for_update {
        sqlx::query_as!(
            PaymentEventRow,
            "select payment_event_no, member_no, order_id, order_name, payment_key, method, approved_at,
                  is_payment_done, is_wallet_done, total_amount, currency, refunded_amount,
                  attempt_no, confirmed_event_id, created_at
             from payment_events where order_id = $1 for update",
            order_id,
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            PaymentEventRow,
            "select payment_event_no, member_no, order_id, order_name, payment_key, method, approved_at,
                  is_payment_done, is_wallet_done, total_amount, currency, refunded_amount,
                  attempt_no, confirmed_event_id, created_at
             from payment_events where order_id = $1",
            order_id,
        )
        .fetch_optional(conn)
        .await
    }
}

pub async fn find_lines(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<Vec<PaymentOrderRow>, sqlx::Error> {
    sqlx::query_as!(
        PaymentOrderRow,
        r#"select payment_order_no, product_no, seller_no, product_name, amount, refunded_amount,
                  status as "status: PaymentStatus", failed_count, threshold
           from payment_orders where payment_event_no = $1
           order by payment_order_no"#,
        payment_event_no,
    )
    .fetch_all(conn)
    .await
}

pub async fn find_history(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as!(
        HistoryRow,
        "select h.payment_order_no, h.previous_status, h.new_status, h.reason, h.changed_by, h.created_at
         from payment_order_histories h
         join payment_orders o on o.payment_order_no = h.payment_order_no
         where o.payment_event_no = $1 order by h.created_at, h.id",
        payment_event_no,
    )
    .fetch_all(conn)
    .await
}

/// What a guarded transition changes and why.
pub struct Transition<'a> {
    pub next: PaymentStatus,
    /// Counts an unknown outcome (`failed_count + 1`).
    pub count_failure: bool,
    /// Only while the event still carries this attempt (the fencing token of the actor that
    /// moved the lines to EXECUTING); `None` for the move that starts an attempt.
    pub attempt_no: Option<i64>,
    pub reason: &'a str,
    pub actor: &'a str,
}

/// One guarded transition of every line of an event: only lines whose current status may
/// become `next` change (compare-and-set), and only while the event carries the transition's
/// attempt; each change is written to the history with its reason and actor in the same
/// statement. Returns how many lines changed.
pub async fn transition(
    conn: &mut PgConnection,
    history_ids: &[i64],
    payment_event_no: i64,
    t: Transition<'_>,
) -> Result<u64, sqlx::Error> {
    // `as _`: the guard's statuses are `&'static str`s, the checked type of a `text[]` is
    // `Vec<String>`.
    let changed = sqlx::query!(
        "with changed as (
            -- p is the row before the update, so RETURNING can report the previous status
            update payment_orders o
               set status = $2,
                   failed_count = o.failed_count + case when $3 then 1 else 0 end
              from payment_orders p
             where p.payment_order_no = o.payment_order_no
               and o.payment_event_no = $1 and o.status = any($4)
               and ($8::bigint is null or exists (
                   select 1 from payment_events e
                    where e.payment_event_no = $1 and e.attempt_no = $8))
         returning o.payment_order_no, p.status as previous_status
         ), numbered as (
            select c.*, row_number() over (order by c.payment_order_no) as n from changed c
         )
         insert into payment_order_histories (id, payment_order_no, previous_status, new_status, reason, changed_by)
         select ($5::bigint[])[n], payment_order_no, previous_status, $2, $6, $7 from numbered",
        payment_event_no,
        t.next.as_str(),
        t.count_failure,
        PaymentStatus::sources_of(t.next) as _,
        history_ids,
        t.reason,
        t.actor,
        t.attempt_no,
    )
    .execute(conn)
    .await?;
    Ok(changed.rows_affected())
}

/// Starts an attempt: binds the key it confirms, stamps its fencing token, and puts the order
/// in the recovery job's sight "when stale" (`infinity`: the job's scan checks the lines' age;
/// recovery_watch.rs). A webhook brings it forward.
pub async fn start_attempt(
    conn: &mut PgConnection,
    payment_event_no: i64,
    payment_key: &str,
    attempt_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_events
            set payment_key = $2, attempt_no = $3, next_recovery_at = 'infinity'
          where payment_event_no = $1",
        payment_event_no,
        payment_key,
        attempt_no,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// A rejected attempt leaves no key behind: the customer's real approval must still fit.
pub async fn unbind_payment_key(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_events set payment_key = null, next_recovery_at = null
         where payment_event_no = $1 and not is_payment_done",
        payment_event_no,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn mark_paid(
    conn: &mut PgConnection,
    payment_event_no: i64,
    method: Option<&str>,
    approved_at: DateTime<Utc>,
    psp_raw: &serde_json::Value,
    confirmed_event_id: uuid::Uuid,
    // The PSP's key of the charge: reconciliation and recovery may accept a charge whose key
    // is not the one an attempt named.
    payment_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_events set is_payment_done = true, method = $2, approved_at = $3,
                psp_raw = $4, confirmed_event_id = $5, next_recovery_at = null, payment_key = $6
         where payment_event_no = $1",
        payment_event_no,
        method,
        approved_at,
        psp_raw,
        confirmed_event_id,
        payment_key,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Marks the order's wallet settlement done; only a paid order can be settled.
pub async fn mark_wallet_done(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update payment_events set is_wallet_done = true
         where payment_event_no = $1 and is_payment_done and not is_wallet_done",
        payment_event_no,
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// [`mark_wallet_done`] of many orders in one statement (a group of `wallet.settled`:
/// wallet_completion.rs).
pub async fn mark_wallets_done(
    conn: &mut PgConnection,
    payment_event_nos: &[i64],
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update payment_events set is_wallet_done = true
         where payment_event_no = any($1) and is_payment_done and not is_wallet_done",
        payment_event_nos,
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}
