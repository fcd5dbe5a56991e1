//! The scans of the recovery job (unknown outcomes, stale attempts) and of the re-drive of
//! unsettled orders.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// Orders the recovery job should re-drive, oldest first: UNKNOWN and due (its backoff
/// passed), or EXECUTING for longer than `stale_secs` (the process died mid-confirm).
/// Every order whose outcome is not known yet has a `next_recovery_at` (`start_attempt` sets
/// `infinity`, "when stale"; recovery_watch.rs), so the scan starts from the small
/// `payment_events_next_recovery_idx` and never reads the lines by status: a line's status
/// is in no index, and its changes are HOT updates
/// (migrations/order-service/20261230000001_recovery_due_on_events.sql).
/// Instances may pick the same order; `recover_order` claims it under the order's row lock,
/// so only one re-drives it.
pub async fn due_for_recovery(
    conn: &mut PgConnection,
    stale_secs: f64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select e.order_id from payment_events e
           join payment_orders o on o.payment_event_no = e.payment_event_no
          where e.next_recovery_at is not null
            and ((o.status = 'UNKNOWN' and e.next_recovery_at <= now())
                 or (o.status = 'EXECUTING' and o.updated_at < now() - make_interval(secs => $1)))
          group by e.order_id
          order by min(o.updated_at)
          limit $2",
        stale_secs,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Whether every EXECUTING line of the event is older than `stale_secs`.
pub async fn is_stale(
    conn: &mut PgConnection,
    payment_event_no: i64,
    stale_secs: f64,
) -> Result<bool, sqlx::Error> {
    let stale: Option<bool> = sqlx::query_scalar!(
        "select bool_and(updated_at < now() - make_interval(secs => $2))
         from payment_orders where payment_event_no = $1 and status = 'EXECUTING'",
        payment_event_no,
        stale_secs,
    )
    .fetch_one(conn)
    .await?;
    Ok(stale.unwrap_or(false))
}

/// When the recovery job looks at an UNKNOWN order next: after `after_secs`, unless a PSP
/// webhook made it due during the attempt (`start_attempt` sets `next_recovery_at` to
/// `infinity`, a webhook brings it forward: `make_due_now`) and that time has come, in which
/// case at once. A webhook's time still ahead (its 10 s throttle) gives way to the backoff.
pub async fn schedule_recovery(
    conn: &mut PgConnection,
    payment_event_no: i64,
    after_secs: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_events
            set next_recovery_at = case when next_recovery_at <= now() then next_recovery_at
                                        else now() + make_interval(secs => $2) end
          where payment_event_no = $1",
        payment_event_no,
        after_secs,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// An order whose outcome is still unknown after `threshold` lookups.
#[derive(Debug, Clone)]
pub struct UnresolvedRow {
    pub order_id: String,
    pub total_amount: Decimal,
    pub payment_key: Option<String>,
    pub failed_count: i32,
    pub next_recovery_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Unresolved orders, oldest first: UNKNOWN with `failed_count ≥ threshold`, or EXECUTING for
/// over ten minutes. Recovery takes an attempt EXECUTING past `RECOVERY_STALE_MS` (a minute by
/// default), so one still EXECUTING ten minutes on means recovery is not writing, and the
/// outcome at the PSP is nobody's (found in review: no gauge showed it).
pub async fn unresolved(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<UnresolvedRow>, sqlx::Error> {
    // Every order whose outcome is not known yet has a `next_recovery_at` (`due_for_recovery`):
    // the small partial index finds them, not a scan of the lines by status. An attempt's
    // `infinity` ("when stale") is no time a client can read.
    sqlx::query_as!(
        UnresolvedRow,
        "select e.order_id, e.total_amount, e.payment_key, max(o.failed_count) as \"failed_count!\",
                nullif(e.next_recovery_at, 'infinity') as next_recovery_at, e.created_at
           from payment_events e join payment_orders o using (payment_event_no)
          where e.next_recovery_at is not null
            and ((o.status = 'UNKNOWN' and o.failed_count >= o.threshold)
                 or (o.status = 'EXECUTING' and o.updated_at < now() - interval '10 minutes'))
          group by e.payment_event_no
          order by e.created_at
          limit $1",
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn count_unresolved(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "select count(*) as \"count!\" from payment_events e
          where e.next_recovery_at is not null
            and exists (select 1 from payment_orders o
                         where o.payment_event_no = e.payment_event_no
                           and ((o.status = 'UNKNOWN' and o.failed_count >= o.threshold)
                                or (o.status = 'EXECUTING'
                                    and o.updated_at < now() - interval '10 minutes')))",
    )
    .fetch_one(conn)
    .await
}

/// Paid orders whose settlement has not come back `after_secs` after the payment (or the
/// last re-drive; the wait doubles per re-drive up to 32×), claimed for one re-drive by
/// bumping `redrive_count` and `updated_at`. An order whose `order.payment.confirmed` — first
/// sent, or a re-drive's copy keyed `{eventId}-redrive-…` (src/redrive.rs) — is still waiting
/// in the outbox is the relay's business (the broker is down, not forgetful), so it is
/// not re-driven: re-publishing then would only pile up the outbox.
pub async fn claim_unsettled(
    conn: &mut PgConnection,
    after_secs: f64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "update payment_events set redrive_count = redrive_count + 1, updated_at = now()
          where payment_event_no in (
                select payment_event_no from payment_events
                 where is_payment_done and not is_wallet_done
                   and greatest(approved_at, updated_at)
                       < now() - make_interval(secs => $1 * power(2, least(redrive_count, 5)))
                   and not exists (select 1 from outbox
                                    where outbox.status <> 'SUCCESS'
                                      and split_part(outbox.idempotency_key, '-redrive-', 1)
                                          = payment_events.confirmed_event_id::text)
                 order by approved_at
                 limit $2
                 for update skip locked)
          returning order_id",
        after_secs,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Touches stale EXECUTING lines so a second recovery pass does not pick them up while this
/// one waits for the PSP.
pub async fn touch_executing(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_orders set updated_at = now()
         where payment_event_no = $1 and status = 'EXECUTING'",
        payment_event_no,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Orders paid (by our record) between the two times.
pub async fn paid_between(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select order_id from payment_events
          where is_payment_done and approved_at between $1 and $2",
        from,
        to,
    )
    .fetch_all(conn)
    .await
}

/// Makes an UNKNOWN order due for the recovery job (a webhook said its payment changed); for
/// an attempt still in flight, its outcome will be looked up at once if it turns out unknown.
/// Answers when the lookup is due, `None` when the order is not waiting for the PSP.
pub async fn make_due_now(
    conn: &mut PgConnection,
    order_id: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    // At most one webhook-driven lookup per order every 10 s (counted from the order's last
    // change): the body is unauthenticated, and a flood must not turn into a flood of PSP
    // lookups under our merchant key. An order due by then already is left alone — not
    // rewritten: until stop 31 every webhook of the flood wrote the row again and was
    // answered LOOKUP_SCHEDULED, each with a task waiting to wake the job.
    sqlx::query_scalar!(
        "with gap as (
            select e.payment_event_no,
                   greatest(now(), max(o.updated_at) + interval '10 seconds') as due
              from payment_events e join payment_orders o using (payment_event_no)
             where e.order_id = $1
             group by e.payment_event_no
            having bool_or(o.status in ('UNKNOWN', 'EXECUTING')))
         update payment_events e set next_recovery_at = gap.due
           from gap
          where e.payment_event_no = gap.payment_event_no
            and (e.next_recovery_at is null or e.next_recovery_at > gap.due)
          returning e.next_recovery_at as \"next_recovery_at!\"",
        order_id,
    )
    .fetch_optional(conn)
    .await
}
