//! Recording what the PSP said about one attempt (docs/payments.md, "Outcome rules"). Every
//! write is one guarded compare-and-set on lines that are EXECUTING *under this attempt*, in
//! one transaction with its history rows and its event, so no outcome overwrites an attempt
//! another actor owns.

use chrono::Utc;
use events::{Envelope, PaidOrderLine, PaymentConfirmed, PaymentFailed};

use crate::{
    payments::{last_reason, order_status, ConfirmError, Outcome, Payments},
    psp::{PspOutcome, TossPayment},
    status::PaymentStatus,
    store::{self, PaymentEventRow, PaymentOrderRow, Transition},
};

/// One attempt at the PSP, owned by whoever moved the order to EXECUTING.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub event: PaymentEventRow,
    /// The fencing token written with EXECUTING.
    pub attempt_no: i64,
    /// Where the order was before: NOT_STARTED, UNKNOWN, or EXECUTING (a stale attempt).
    pub previous: PaymentStatus,
    pub payment_key: String,
}

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
    /// Applies what the PSP said about `attempt`. An "already processed" answer is checked by
    /// looking the payment up.
    pub async fn record_outcome(
        &self,
        attempt: &Attempt,
        psp: PspOutcome,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let psp = match psp {
            PspOutcome::AlreadyProcessed => {
                match self.psp.find_by_order_id(&attempt.event.order_id).await {
                    answered @ PspOutcome::Answered(..) => answered,
                    _ => PspOutcome::Unknown {
                        reason: "ALREADY_PROCESSED_NOT_FOUND".into(),
                    },
                }
            }
            other => other,
        };
        match psp {
            PspOutcome::Answered(payment, raw) => {
                self.apply_payment(attempt, &payment, &raw, actor).await
            }
            PspOutcome::Declined { code, message } => {
                self.fail(attempt, &code, &message, actor).await
            }
            PspOutcome::Rejected { code, message } => {
                self.release(attempt, attempt.previous, &code, actor)
                    .await?;
                Ok(Outcome::Rejected { code, message })
            }
            PspOutcome::Credentials { code } => {
                self.metrics.credential_errors.inc();
                tracing::error!(order_id = %attempt.event.order_id, %code,
                    "the PSP refused our merchant credentials (PSP_SECRET_KEY); the order is left as it was");
                self.release(attempt, attempt.previous, &code, actor)
                    .await?;
                Ok(Outcome::CredentialsRejected { code })
            }
            PspOutcome::Unknown { reason } => self.record_unknown(attempt, &reason, actor).await,
            PspOutcome::AlreadyProcessed => {
                self.record_unknown(attempt, "ALREADY_PROCESSED", actor)
                    .await
            }
        }
    }

    /// A Payment object: charged with our amount → SUCCESS; charged with another amount →
    /// our own cancel, then FAILURE; aborted or expired → FAILURE; anything else → unknown.
    async fn apply_payment(
        &self,
        attempt: &Attempt,
        payment: &TossPayment,
        raw: &serde_json::Value,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        if payment.order_id != event.order_id {
            return self
                .record_unknown(attempt, "PSP_ANSWERED_ANOTHER_ORDER", actor)
                .await;
        }
        match payment.status.as_str() {
            _ if payment.was_charged() && payment.total_amount != event.total_amount => {
                self.void_wrong_charge(attempt, payment, actor).await
            }
            "DONE" | "PARTIAL_CANCELED" | "CANCELED" => {
                // A charge of our amount is accepted whenever it is seen (docs/payments.md);
                // a refund made at the PSP outside this service shows up in reconciliation.
                self.record_approval(attempt, payment, raw, actor).await
            }
            "ABORTED" | "EXPIRED" => {
                let code = format!("PSP_STATUS_{}", payment.status);
                self.fail(attempt, &code, "the PSP aborted the payment", actor)
                    .await
            }
            other => {
                self.record_unknown(attempt, &format!("PSP_STATUS_{other}"), actor)
                    .await
            }
        }
    }

    /// The PSP charged an amount that is not the order's: refund it in full with our own
    /// cancel (a fixed key, so repeating it is safe) and fail the order once that is done;
    /// until then the order stays unknown and recovery repeats the cancel.
    async fn void_wrong_charge(
        &self,
        attempt: &Attempt,
        payment: &TossPayment,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        tracing::error!(order_id = %event.order_id, psp_amount = %payment.total_amount,
            "the PSP charged a different amount; refunding it");
        let refunded = if payment.status == "CANCELED" {
            true
        } else {
            let key = format!("void-{}", event.order_id);
            let answer = self
                .psp
                .cancel(&payment.payment_key, "amount mismatch", None, &key)
                .await;
            match &answer {
                PspOutcome::Answered(p, _) => p.status == "CANCELED",
                PspOutcome::Rejected { code, .. } => code == "ALREADY_CANCELED_PAYMENT",
                _ => false,
            }
        };
        if refunded {
            self.fail(
                attempt,
                "PSP_AMOUNT_MISMATCH",
                "the PSP charged a different amount; it was refunded",
                actor,
            )
            .await
        } else {
            self.record_unknown(attempt, "PSP_AMOUNT_MISMATCH_REFUND_PENDING", actor)
                .await
        }
    }

    async fn guarded(
        &self,
        tx: &mut sqlx::PgConnection,
        attempt: &Attempt,
        t: Transition<'_>,
    ) -> Result<(Vec<PaymentOrderRow>, u64), ConfirmError> {
        let lines = store::find_lines(tx, attempt.event.payment_event_no).await?;
        let ids = self.history_ids(lines.len())?;
        let changed = store::transition(tx, &ids, attempt.event.payment_event_no, t).await?;
        Ok((lines, changed))
    }

    async fn record_approval(
        &self,
        attempt: &Attempt,
        payment: &TossPayment,
        raw: &serde_json::Value,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        let mut tx = self.pool.begin().await?;
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
        )
        .await?;
        self.outbox
            .append(&mut tx, event.payment_event_no, &confirmed, &[])
            .await?;
        tx.commit().await?;
        self.nudge.nudge();
        self.metrics
            .record(&event.order_id, "SUCCESS", "PSP_CONFIRM_OK", actor);
        Ok(Outcome::Success)
    }

    /// Counts an unknown outcome and schedules the next lookup; never gives up by counting.
    async fn record_unknown(
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
            count_failure: false,
            attempt_no: Some(attempt.attempt_no),
            reason: code,
            actor,
        };
        let (_, changed) = self.guarded(&mut tx, attempt, t).await?;
        if changed > 0 {
            if to == PaymentStatus::NotStarted {
                store::unbind_payment_key(&mut tx, event.payment_event_no).await?;
            } else {
                let wait = self.backoff(0);
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

    async fn fail(
        &self,
        attempt: &Attempt,
        code: &str,
        message: &str,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let event = &attempt.event;
        let mut tx = self.pool.begin().await?;
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
        self.nudge.nudge();
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
