//! Repairs reconciliation may make on its own (docs/payments.md "Reconciliation"): a PSP
//! charge we do not have as paid is taken as the outcome of a new attempt, a refund made at the
//! PSP outside us is recorded. Anything else is listed for a person.

use rust_decimal::Decimal;

use super::{Ledger, ReconcileError, ACTOR};
use crate::{
    payments::{order_status, ConfirmError, Outcome, Payments},
    psp::{PspOutcome, TossPayment},
    status::PaymentStatus,
    store,
};

impl Payments {
    /// What the rules say to do: a charge we do not have as paid is accepted; a refund we
    /// have as an unknown cancel is completed. Anything else is for a person. `looked_up` is
    /// the PSP's answer to a lookup of the order made after our side was read (mod.rs).
    pub(super) async fn repair(
        &self,
        order_id: &str,
        ours: &Ledger,
        psp: &Ledger,
        looked_up: PspOutcome,
    ) -> Result<String, ReconcileError> {
        let PspOutcome::Answered(payment, raw) = looked_up else {
            return Ok("NONE".into());
        };
        let unpaid = matches!(ours.status.as_str(), "NOT_STARTED" | "UNKNOWN");
        if unpaid && psp.charged > Decimal::ZERO {
            // Accepting records what the PSP has refunded of the charge in the same
            // transaction (attempt/write.rs `record_approval`).
            return Ok(self
                .accept_charge(order_id, &payment, raw)
                .await?
                .unwrap_or_else(|| "NONE".into()));
        }
        let paid = matches!(ours.status.as_str(), "SUCCESS" | "PARTIAL_CANCELED");
        if paid
            && ours.charged == psp.charged
            && psp.refunded > ours.refunded
            && self
                .import_psp_refund(order_id, &payment, ACTOR)
                .await?
                .is_some()
        {
            return Ok("IMPORTED_PSP_REFUND".into());
        }
        Ok("NONE".into())
    }

    /// The PSP charged an order we have as unpaid: take its payment as the outcome of a new
    /// attempt (the outcome rules then accept it, or refund a wrong amount).
    async fn accept_charge(
        &self,
        order_id: &str,
        payment: &TossPayment,
        raw: serde_json::Value,
    ) -> Result<Option<String>, ConfirmError> {
        if !payment.was_charged() {
            return Ok(None);
        }
        let mut tx = self.pool.begin().await?;
        let Some(event) = store::find_event(&mut tx, order_id, true).await? else {
            return Ok(None);
        };
        let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
        let previous = order_status(&lines);
        if !matches!(previous, PaymentStatus::NotStarted | PaymentStatus::Unknown) {
            return Ok(None);
        }
        let attempt = self
            .start_attempt(
                &mut tx,
                &event,
                lines.len(),
                previous,
                &payment.payment_key,
                "RECONCILIATION",
                ACTOR,
            )
            .await?;
        tx.commit().await?;
        let outcome = self
            .record_outcome(&attempt, PspOutcome::Answered(payment.clone(), raw), ACTOR)
            .await?;
        Ok(match outcome {
            Outcome::Success => Some("ACCEPTED_PAYMENT".into()),
            // A charge of another amount, refunded by us (docs/payments.md).
            Outcome::Failure { .. } => Some("REFUNDED_WRONG_CHARGE".into()),
            _ => None,
        })
    }
}
