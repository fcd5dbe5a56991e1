//! The recovery job: re-drives payments whose outcome is UNKNOWN, and EXECUTING ones whose
//! confirm died with its process. It asks the PSP first (the payment may have gone through),
//! and confirms again only with the same idempotency key, so it can never charge twice.

use std::time::Duration;

use service_kit::{trace, Shutdown, TraceContext};
use tracing::Instrument;

use crate::{
    payments::{order_status, ConfirmError, Outcome, Payments},
    status::PaymentStatus,
    store,
    toss::PspOutcome,
};

pub const ACTOR: &str = "recovery-job";

#[derive(Debug, Clone, Copy)]
pub struct RecoveryConfig {
    pub interval: Duration,
    /// EXECUTING for longer than this means the confirming process is gone; well above the
    /// PSP timeout so a slow but live confirm is not raced.
    pub stale_after: Duration,
    pub batch: i64,
}

pub fn spawn(payments: Payments, config: RecoveryConfig, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    shutdown.spawn("payment-recovery", async move {
        loop {
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(config.interval) => {}
            }
            match recover_due(&payments, config).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(orders = n, "recovery pass re-drove payments"),
                Err(e) => tracing::warn!(error = %e, "recovery pass failed; will retry"),
            }
        }
    });
}

/// One pass over due orders; returns how many were re-driven.
pub async fn recover_due(
    payments: &Payments,
    config: RecoveryConfig,
) -> Result<usize, ConfirmError> {
    let mut conn = payments.pool.acquire().await?;
    let due = store::due_for_recovery(&mut conn, config.stale_after.as_secs() as i64, config.batch)
        .await?;
    drop(conn);
    let mut driven = 0;
    for order_id in due {
        // Each re-drive is a unit of work of its own: its logs and the event it writes share
        // a new trace (the confirm's trace was not kept).
        let ctx = TraceContext::new_root();
        let span = tracing::info_span!(
            "recovery",
            service = crate::SPEC.name,
            %order_id,
            trace_id = %ctx.trace_id(),
            span_id = %ctx.span_id(),
        );
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

/// Claims one order (UNKNOWN → EXECUTING, or a stale EXECUTING touched) under its row lock,
/// then asks the PSP and records the answer. `None` when someone else got there first.
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
    match order_status(&lines) {
        PaymentStatus::Unknown => {
            let ids: Vec<i64> = (0..lines.len())
                .map(|_| payments.ids.next_id())
                .collect::<Result<_, _>>()?;
            store::transition(
                &mut tx,
                &ids,
                event.payment_event_no,
                PaymentStatus::Executing,
                false,
                "RECOVERY_RETRY",
                ACTOR,
            )
            .await?;
        }
        PaymentStatus::Executing => {
            let stale: bool = sqlx::query_scalar(
                "select bool_and(updated_at < now() - make_interval(secs => $2))
                 from payment_orders where payment_event_no = $1 and status = 'EXECUTING'",
            )
            .bind(event.payment_event_no)
            .bind(config.stale_after.as_secs_f64())
            .fetch_one(&mut *tx)
            .await?;
            if !stale {
                return Ok(None);
            }
            store::touch_executing(&mut tx, event.payment_event_no).await?;
        }
        _ => return Ok(None),
    }
    tx.commit().await?;

    let Some(payment_key) = event.payment_key.clone() else {
        // EXECUTING without a key cannot happen (both are written together); be explicit.
        return payments
            .record_outcome(
                &event,
                PspOutcome::Unknown {
                    reason: "NO_PAYMENT_KEY".into(),
                },
                ACTOR,
            )
            .await
            .map(Some);
    };
    let psp = match payments.toss.find_by_order_id(order_id).await {
        PspOutcome::Approved(p, raw) if p.status == "DONE" => PspOutcome::Approved(p, raw),
        PspOutcome::Unknown { reason } => PspOutcome::Unknown { reason },
        // Not confirmed at the PSP (not found, or only approved in the window): confirm again
        // with the same idempotency key.
        _ => {
            payments
                .toss
                .confirm(&payment_key, order_id, event.total_amount)
                .await
        }
    };
    payments.record_outcome(&event, psp, ACTOR).await.map(Some)
}
