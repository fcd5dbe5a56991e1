//! Recording what the PSP said about one attempt (docs/payments.md, "Outcome rules"). Every
//! write is one guarded compare-and-set on lines that are EXECUTING *under this attempt*, in
//! one transaction with its history rows and its event, so no outcome overwrites an attempt
//! another actor owns.

mod write;

use crate::{
    payments::{ConfirmError, Outcome, Payments},
    psp::{PspOutcome, PspPaymentStatus, TossPayment},
    status::PaymentStatus,
    store::PaymentEventRow,
};

pub use write::confirmed_event;

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

    /// A Payment object: charged with our amount → SUCCESS; charged with another amount or in
    /// another currency → our own cancel, then FAILURE; aborted or expired → FAILURE; anything else → unknown.
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
        match &payment.status {
            _ if payment.was_charged()
                && !payment.charged_as_ordered(event.total_amount, &event.currency) =>
            {
                self.void_wrong_charge(attempt, payment, actor).await
            }
            PspPaymentStatus::Done
            | PspPaymentStatus::PartialCanceled
            | PspPaymentStatus::Canceled => {
                // A charge of our amount is accepted whenever it is seen (docs/payments.md),
                // with what the PSP has refunded of it already (write.rs `record_approval`).
                match self.record_approval(attempt, payment, raw, actor).await {
                    Ok(outcome) => Ok(outcome),
                    // The PSP charged and writing it failed: an outcome we do not have yet,
                    // counted like a timeout, so recovery keeps looking and past the threshold
                    // the order is listed for a person (`PaymsaPaymentsUnresolved`). Left
                    // EXECUTING it was taken over again every `RECOVERY_STALE_MS`, each time
                    // as a fresh attempt, and never listed.
                    Err(e) => {
                        tracing::error!(order_id = %attempt.event.order_id,
                            error = %service_kit::error_chain(&e),
                            "recording the PSP's charge failed; counted as an unknown outcome");
                        self.record_unknown(attempt, "RECORDING_FAILED", actor)
                            .await
                    }
                }
            }
            PspPaymentStatus::Aborted | PspPaymentStatus::Expired => {
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
            psp_currency = ?payment.currency, "the PSP charged a different amount or currency; refunding it");
        let refunded = if payment.status == PspPaymentStatus::Canceled {
            true
        } else {
            let key = format!("void-{}", event.order_id);
            let answer = self
                .psp
                .cancel(&payment.payment_key, "amount mismatch", None, &key)
                .await;
            match &answer {
                PspOutcome::Answered(p, _) => p.status == PspPaymentStatus::Canceled,
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
}
