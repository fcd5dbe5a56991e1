//! Which orders the recovery job watches (store/recovery.rs `due_for_recovery`): every order
//! whose outcome at the PSP is not known yet — lines EXECUTING or UNKNOWN — has a
//! `payment_events.next_recovery_at`, and no other order has one for long.
//! - an attempt sets `infinity`, "when stale" (store/mod.rs `start_attempt`); an unknown
//!   outcome sets the backoff's time and a webhook brings it forward (recovery.rs);
//! - a definite outcome clears it (`mark_paid`, `unbind_payment_key`, [`stop_recovery`]);
//! - what a race leaves behind is cleared on the job's passes ([`clear_finished`]), and what an
//!   older instance left without one is found by [`watch_unwatched_attempts`].

use sqlx::PgConnection;

/// A definite outcome: the recovery job has nothing more to look up for the order.
pub async fn stop_recovery(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_events set next_recovery_at = null where payment_event_no = $1",
        payment_event_no,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Clears `next_recovery_at` of orders with no line EXECUTING or UNKNOWN any more. A webhook
/// that waited for the order's lock while its outcome was written (recovery.rs
/// `make_due_now`) re-checks the event row, not the lines, and can set a time on an order
/// just finished; left there, such rows would grow the job's every scan. Guarded by the
/// attempt number: an attempt started since the rows were read keeps its time.
pub async fn clear_finished(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update payment_events e set next_recovery_at = null
           from (select p.payment_event_no, p.attempt_no from payment_events p
                  where p.next_recovery_at is not null
                    and not exists (select 1 from payment_orders o
                                     where o.payment_event_no = p.payment_event_no
                                       and o.status in ('EXECUTING', 'UNKNOWN'))
                  limit 1000) done
          where e.payment_event_no = done.payment_event_no
            and e.attempt_no is not distinct from done.attempt_no
            and e.next_recovery_at is not null",
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// Gives the recovery job every order left EXECUTING or UNKNOWN without a `next_recovery_at`:
/// one an instance from before migration 20261230000001 started and abandoned (it cleared the
/// column at the start of an attempt), or one a future defect of a writer leaves out. It reads
/// every line, so the job runs it once an hour (recovery.rs). Answers how many it found.
pub async fn watch_unwatched_attempts(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "update payment_events e
            set next_recovery_at = now()
          where e.next_recovery_at is null
            and e.payment_event_no in (select o.payment_event_no from payment_orders o
                                        where o.status in ('EXECUTING', 'UNKNOWN'))",
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}
