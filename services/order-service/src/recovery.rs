//! The recovery job: re-drives payments whose outcome is UNKNOWN (each after its backoff,
//! for as long as it takes), EXECUTING ones whose confirm died with its process, and cancels
//! whose outcome is unknown. It asks the PSP first (the payment may have gone through), and
//! confirms again only for the same key, so it can never charge twice. Each pass also
//! refreshes the `payments_unresolved` gauge.

use std::time::Duration;

use service_kit::{trace, JobPasses, Shutdown};
use tokio::time::Instant;
use tracing::Instrument;

use crate::{
    payments::{order_status, ConfirmError, Outcome, Payments},
    psp::{PspOutcome, PspPaymentStatus},
    status::PaymentStatus,
    store,
};

pub const ACTOR: &str = "recovery-job";

/// A cancel still unknown after this many calls is listed and counted for a person; recovery
/// keeps calling (with the same PSP key) meanwhile.
pub const UNRESOLVED_CANCEL_ATTEMPTS: i32 = 5;

#[derive(Debug, Clone, Copy)]
pub struct RecoveryConfig {
    pub interval: Duration,
    /// EXECUTING for longer than this means the confirming process is gone; well above the
    /// PSP timeout so a slow but live confirm is not raced.
    pub stale_after: Duration,
    pub batch: i64,
}

pub fn spawn(payments: Payments, config: RecoveryConfig, passes: JobPasses, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    shutdown.spawn("payment-recovery", async move {
        // When the job last looked for unwatched attempts: at its first pass, then hourly.
        let mut swept: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(config.interval) => {}
                // A PSP webhook made an order due now (crate::webhooks).
                _ = payments.recovery_wake.notified() => {}
            }
            if swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY)
                && watch_unwatched_attempts(&payments).await
            {
                swept = Some(Instant::now());
            }
            let passed = recover_due(&payments, config).await;
            if passed.is_ok() {
                passes.passed();
            }
            match passed {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "recovery pass re-drove payments"),
                Err(e) => tracing::warn!(error = %e, "recovery pass failed; will retry"),
            }
        }
    });
}

/// How often the job reads every line for attempts out of its sight: a full scan of the lines,
/// for what only an instance from before stop 30 or a defect leaves behind.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Orders left EXECUTING or UNKNOWN out of the job's sight (store/recovery_watch.rs
/// `watch_unwatched_attempts`). Answers whether the look was made.
async fn watch_unwatched_attempts(payments: &Payments) -> bool {
    let watched = match payments.pool.acquire().await {
        Ok(mut conn) => store::recovery_watch::watch_unwatched_attempts(&mut conn).await,
        Err(e) => Err(e),
    };
    match watched {
        Ok(0) => true,
        Ok(n) => {
            tracing::warn!(
                orders = n,
                "attempts nobody was watching are due for recovery"
            );
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "looking for unwatched attempts failed; will retry");
            false
        }
    }
}

/// One pass over due orders; returns how many were re-driven.
pub async fn recover_due(
    payments: &Payments,
    config: RecoveryConfig,
) -> Result<usize, ConfirmError> {
    let mut conn = payments.pool.acquire().await?;
    let cleared = store::recovery_watch::clear_finished(&mut conn).await?;
    if cleared > 0 {
        tracing::info!(
            orders = cleared,
            "finished orders left due for recovery were cleared"
        );
    }
    let due = store::recovery::due_for_recovery(
        &mut conn,
        config.stale_after.as_secs_f64(),
        config.batch,
    )
    .await?;
    let unresolved = store::recovery::count_unresolved(&mut conn).await?;
    payments.metrics.unresolved.set(unresolved);
    let stuck = store::cancels::count_unresolved(&mut conn, UNRESOLVED_CANCEL_ATTEMPTS).await?;
    payments.metrics.cancels_unresolved.set(stuck);
    let cancels =
        store::cancels::claim_due(&mut conn, config.stale_after.as_secs_f64(), config.batch)
            .await?;
    drop(conn);
    let lease = config.stale_after.as_secs_f64();
    for (cancel_no, claimed_until) in cancels {
        // The batch's one lease may have run out while the drives before this one waited on
        // the PSP: renewed, or left to whoever claimed the cancel since.
        let mut conn = payments.pool.acquire().await?;
        let ours =
            store::cancel_states::renew_claim(&mut conn, cancel_no, claimed_until, lease).await?;
        drop(conn);
        if !ours {
            tracing::info!(
                cancel_no,
                "a cancel of this pass was claimed by another drive"
            );
            continue;
        }
        match payments.drive_cancel(cancel_no, ACTOR).await {
            Ok(state) => tracing::info!(cancel_no, ?state, "re-drove a cancel"),
            Err(e) => tracing::warn!(cancel_no, error = %e, "re-driving a cancel failed"),
        }
    }
    let mut driven = 0;
    for order_id in due {
        // Each re-drive is a unit of work of its own: its logs and the event it writes share
        // a new trace (the confirm's trace was not kept).
        let span = tracing::info_span!(
            "recovery",
            service = crate::SPEC.name,
            %order_id,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        let ctx = trace::begin(&span, None);
        let recovered = trace::scope(ctx, recover_order(payments, &order_id, config))
            .instrument(span)
            .await;
        match recovered {
            Ok(Some(outcome)) => {
                driven += 1;
                tracing::info!(%order_id, ?outcome, "recovered payment");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(%order_id, error = %e, "recovering payment failed"),
        }
    }
    Ok(driven)
}

/// Claims one order (UNKNOWN → EXECUTING under a new attempt, or a stale EXECUTING taken
/// over with a new attempt) under its row lock, then asks the PSP and records the answer.
/// `None` when someone else got there first.
pub async fn recover_order(
    payments: &Payments,
    order_id: &str,
    config: RecoveryConfig,
) -> Result<Option<Outcome>, ConfirmError> {
    let mut tx = payments.pool.begin().await?;
    let Some(event) = store::find_event(&mut tx, order_id, true).await? else {
        return Ok(None);
    };
    let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
    let previous = order_status(&lines);
    match previous {
        PaymentStatus::Unknown => {}
        PaymentStatus::Executing => {
            let stale_secs = config.stale_after.as_secs_f64();
            if !store::recovery::is_stale(&mut tx, event.payment_event_no, stale_secs).await? {
                return Ok(None);
            }
        }
        _ => return Ok(None),
    }
    let Some(payment_key) = event.payment_key.clone() else {
        // EXECUTING/UNKNOWN without a key cannot happen (both are written together).
        tracing::error!(%order_id, "an attempted order has no payment key");
        return Ok(None);
    };
    let attempt = if previous == PaymentStatus::Executing {
        // Take the dead attempt over: a fresh fencing token, so its late answer (if its
        // process is only slow) cannot overwrite ours.
        let attempt_no = payments.ids.next_id()?;
        store::recovery::touch_executing(&mut tx, event.payment_event_no).await?;
        store::start_attempt(&mut tx, event.payment_event_no, &payment_key, attempt_no).await?;
        crate::attempt::Attempt {
            event: event.clone(),
            attempt_no,
            previous,
            payment_key: payment_key.clone(),
        }
    } else {
        payments
            .start_attempt(
                &mut tx,
                &event,
                lines.len(),
                previous,
                &payment_key,
                "RECOVERY_RETRY",
                ACTOR,
            )
            .await?
    };
    tx.commit().await?;

    let psp = match payments.psp.find_by_order_id(order_id).await {
        // The order's payment at the PSP is not the one our attempt names, and nothing was
        // charged: the attempt's key (a wrong one a client sent) confirms nothing. The order
        // goes back to NOT_STARTED with that key freed, so the real approval can confirm.
        PspOutcome::Answered(p, _) if p.payment_key != payment_key && !p.was_charged() => {
            return release_unknown_key(payments, &attempt, "PSP_PAYMENT_HAS_ANOTHER_KEY").await;
        }
        // Approved in the window but never confirmed: confirm it, under this attempt's key.
        PspOutcome::Answered(p, _)
            if matches!(
                p.status,
                PspPaymentStatus::Ready | PspPaymentStatus::InProgress
            ) =>
        {
            payments
                .psp
                .confirm(
                    &payment_key,
                    order_id,
                    event.total_amount,
                    attempt.attempt_no,
                )
                .await
        }
        // The PSP has no payment for this order at all: no money moved.
        PspOutcome::Rejected { code, .. } if code == "NOT_FOUND_PAYMENT" => {
            return release_unknown_key(payments, &attempt, "PSP_NO_PAYMENT_FOR_ORDER").await;
        }
        other => other,
    };
    payments
        .record_outcome(&attempt, psp, ACTOR)
        .await
        .map(Some)
}

/// Ends a recovery attempt whose key the PSP does not know for this order: NOT_STARTED, the key
/// freed, confirmable with the customer's real approval.
async fn release_unknown_key(
    payments: &Payments,
    attempt: &crate::attempt::Attempt,
    reason: &str,
) -> Result<Option<Outcome>, ConfirmError> {
    payments
        .release(attempt, PaymentStatus::NotStarted, reason, ACTOR)
        .await?;
    Ok(Some(Outcome::Rejected {
        code: reason.to_string(),
        message: "the PSP has no charge under this order's key".into(),
    }))
}
