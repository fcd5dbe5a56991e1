//! The guarded writes of an attempt's outcome ([`super`]): SUCCESS with its event, UNKNOWN
//! with its next lookup, FAILURE with its event, or back to where the order was.

use chrono::Utc;
use events::{Envelope, PaidOrderLine, PaymentConfirmed, PaymentFailed};

use super::Attempt;
use crate::{
    payments::{last_reason, order_status, ConfirmError, Outcome, Payments},
    psp::TossPayment,
    status::PaymentStatus,
    store::{self, PaymentEventRow, PaymentOrderRow, Transition},
};

/// `order.payment.confirmed` of a paid order, from its committed rows.
pub fn confirmed_event(
    event: &PaymentEventRow,
    lines: &[PaymentOrderRow],
    payment_key: &str,
    method: &str,
    approved_at: chrono::DateTime<Utc>,
) -> PaymentConfirmed {
    PaymentConfirmed {
        payment_event_no: event.payment_event_no,
        member_no: event.member_no,
        order_id: event.order_id.clone(),
        order_name: event.order_name.clone(),
        payment_key: payment_key.to_string(),
        method: method.to_string(),
        approved_at,
        total_amount: event.total_amount,
        ordered_at: event.created_at,
        lines: lines
            .iter()
            .map(|l| PaidOrderLine {
                payment_order_no: l.payment_order_no,
                product_no: l.product_no,
                seller_no: l.seller_no,
                product_name: l.product_name.clone(),
                amount: l.amount,
            })
            .collect(),
    }
}

impl Payments {
    async fn guarded(
        &self,
        tx: &mut sqlx::PgConnection,
        attempt: &Attempt,
        t: Transition<'_>,
    ) -> Result<(Vec<PaymentOrderRow>, u64), ConfirmError> {
        // The order's row lock makes the fence a real compare-and-set: an actor taking the
        // order over (recovery, reconciliation) writes its attempt_no under the same lock, so
        // the attempt read here is the one in force until this transaction ends.
        let (current, lines) =
            store::orders::lock_attempt_with_lines(tx, attempt.event.payment_event_no).await?;
        if current != Some(attempt.attempt_no) {
            return Ok((lines, 0));
        }
        let ids = self.history_ids(lines.len())?;
        let changed = store::transition(tx, &ids, attempt.event.payment_event_no, t).await?;
        Ok((lines, changed))
    }

    pub(super) async fn record_approval(
        &self,
        attempt: &Attempt,
        payment: &TossPayment,
        raw: &serde_json::Value,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        let mut tx = self.outbox.begin(&self.pool).await?;
        let t = Transition {
            next: PaymentStatus::Success,
            count_failure: false,
            attempt_no: Some(attempt.attempt_no),
            reason: "PSP_CONFIRM_OK",
            actor,
        };
        let (lines, changed) = self.guarded(&mut tx, attempt, t).await?;
        if changed == 0 {
            // Another actor owns the order now; report what it recorded.
            return current_outcome(&mut tx, event).await;
        }
        let approved_at = payment.approved_at.unwrap_or_else(Utc::now);
        let method = payment.method.clone().unwrap_or_default();
        let confirmed = Envelope::new(confirmed_event(
            event,
            &lines,
            &payment.payment_key,
            &method,
            approved_at,
        ));
        store::mark_paid(
            &mut tx,
            event.payment_event_no,
            payment.method.as_deref(),
            approved_at,
            raw,
            confirmed.event_id,
            &payment.payment_key,
        )
        .await?;
        self.outbox
            .append(&mut tx, event.payment_event_no, &confirmed, &[])
            .await?;
        // What the PSP has refunded of the charge already is recorded as a cancel in the same
        // transaction, so the seller is never credited for money the customer has back: a
        // crash or error between two transactions left the order paid in full here and
        // partly refunded at the PSP, with no later run of reconciliation bound to see it.
        let imported = if payment.refunded() > rust_decimal::Decimal::ZERO {
            self.import_psp_refund_in(&mut tx, &event.order_id, payment, actor)
                .await
                .map_err(ConfirmError::refund_import)?
        } else {
            None
        };
        tx.commit().await?;
        self.final_orders.remember(&event.order_id);
        self.metrics
            .record(&event.order_id, "SUCCESS", "PSP_CONFIRM_OK", actor);
        if let Some(imported) = imported {
            // Committed: what fails now is reading the row back, not the refund's record.
            if let Err(e) = self.after_importing(imported, actor).await {
                tracing::warn!(order_id = %event.order_id, error = %e,
                    "reading back the refund recorded with the charge failed");
            }
        }
        Ok(Outcome::Success)
    }

    /// Counts an unknown outcome and schedules the next lookup; never gives up by counting.
    pub(super) async fn record_unknown(
        &self,
        attempt: &Attempt,
        reason: &str,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        let mut tx = self.pool.begin().await?;
        let t = Transition {
            next: PaymentStatus::Unknown,
            count_failure: true,
            attempt_no: Some(attempt.attempt_no),
            reason,
            actor,
        };
        let (lines, changed) = self.guarded(&mut tx, attempt, t).await?;
        if changed == 0 {
            return current_outcome(&mut tx, event).await;
        }
        let failed = lines.iter().map(|l| l.failed_count + 1).max().unwrap_or(1);
        let wait = self.backoff(failed);
        store::recovery::schedule_recovery(&mut tx, event.payment_event_no, wait.as_secs_f64())
            .await?;
        tx.commit().await?;
        if lines.iter().any(|l| failed >= l.threshold) {
            tracing::warn!(order_id = %event.order_id, failed, next_lookup_in = ?wait,
                "payment still unresolved after the threshold; needs attention");
        }
        self.metrics
            .record(&event.order_id, "UNKNOWN", reason, actor);
        Ok(Outcome::Unknown {
            reason: reason.to_string(),
        })
    }

    /// Ends the attempt as if it had not happened: back to `to` (NOT_STARTED frees the key for
    /// the customer's real approval; UNKNOWN keeps an earlier attempt's key to be looked up).
    pub async fn release(
        &self,
        attempt: &Attempt,
        to: PaymentStatus,
        code: &str,
        actor: &str,
    ) -> Result<(), ConfirmError> {
        let event = &attempt.event;
        let to = match to {
            PaymentStatus::NotStarted => PaymentStatus::NotStarted,
            // A stale EXECUTING attempt may have charged: it is unknown, not undone.
            _ => PaymentStatus::Unknown,
        };
        let mut tx = self.pool.begin().await?;
        let t = Transition {
            next: to,
            // Back to UNKNOWN counts like an unknown outcome and backs off the same way, so a
            // PSP that keeps refusing the lookup shows up as unresolved instead of looping.
            count_failure: to == PaymentStatus::Unknown,
            attempt_no: Some(attempt.attempt_no),
            reason: code,
            actor,
        };
        let (lines, changed) = self.guarded(&mut tx, attempt, t).await?;
        if changed > 0 {
            if to == PaymentStatus::NotStarted {
                store::unbind_payment_key(&mut tx, event.payment_event_no).await?;
            } else {
                let failed = lines.iter().map(|l| l.failed_count + 1).max().unwrap_or(1);
                let wait = self.backoff(failed);
                store::recovery::schedule_recovery(
                    &mut tx,
                    event.payment_event_no,
                    wait.as_secs_f64(),
                )
                .await?;
            }
            self.metrics
                .record(&event.order_id, "REJECTED", code, actor);
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn fail(
        &self,
        attempt: &Attempt,
        code: &str,
        message: &str,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        let mut tx = self.outbox.begin(&self.pool).await?;
        let t = Transition {
            next: PaymentStatus::Failure,
            count_failure: false,
            attempt_no: Some(attempt.attempt_no),
            reason: code,
            actor,
        };
        let (_, changed) = self.guarded(&mut tx, attempt, t).await?;
        if changed == 0 {
            return current_outcome(&mut tx, event).await;
        }
        store::recovery_watch::stop_recovery(&mut tx, event.payment_event_no).await?;
        let failed = Envelope::new(PaymentFailed {
            payment_event_no: event.payment_event_no,
            member_no: event.member_no,
            order_id: event.order_id.clone(),
            order_name: event.order_name.clone(),
            total_amount: event.total_amount,
            ordered_at: event.created_at,
            reason_code: code.to_string(),
        });
        self.outbox
            .append(&mut tx, event.payment_event_no, &failed, &[])
            .await?;
        tx.commit().await?;
        self.final_orders.remember(&event.order_id);
        self.metrics.record(&event.order_id, "FAILURE", code, actor);
        Ok(Outcome::Failure {
            code: code.to_string(),
            message: message.to_string(),
        })
    }
}

/// The outcome as currently recorded (after losing a race to another writer).
async fn current_outcome(
    conn: &mut sqlx::PgConnection,
    event: &PaymentEventRow,
) -> Result<Outcome, ConfirmError> {
    let lines = store::find_lines(conn, event.payment_event_no).await?;
    Ok(match order_status(&lines) {
        s if s.is_paid() => Outcome::Success,
        PaymentStatus::Failure => Outcome::Failure {
            code: last_reason(conn, event).await?,
            message: "the payment failed".into(),
        },
        other => Outcome::Unknown {
            reason: format!("CONCURRENT_{other}"),
        },
    })
}
