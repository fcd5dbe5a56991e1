//! Refunds the PSP made that no cancel of ours names — in its dashboard, or before we accepted
//! the charge — recorded as DONE cancels (docs/payments.md, "Reconciliation" and "Outcome
//! rules"), keyed [`IMPORT_KEY_PREFIX`] + the PSP's refunded total.

use outbox::OutboxTx;
use rust_decimal::Decimal;

use super::{allocate, CancelError, IMPORT_KEY_PREFIX};
use crate::{
    payments::{order_status, ConfirmError, Payments},
    psp::TossPayment,
    status::{CancelStatus, PaymentStatus},
    store::{self, cancels::CancelRow},
};

impl Payments {
    /// Records a refund the PSP made that no cancel of ours names (made in the PSP's
    /// dashboard, or before we accepted a charge): a DONE cancel for the difference, spread
    /// over the lines like any cancel, with its event, so the wallet reverses it too.
    pub async fn import_psp_refund(
        &self,
        order_id: &str,
        psp: &TossPayment,
        actor: &str,
    ) -> Result<Option<CancelRow>, CancelError> {
        // One transaction from the row to DONE: committed in between, the cancel looked like
        // one of ours still waiting for the PSP, and a recovery or another instance's
        // reconciliation drove it — asking the PSP to refund the same amount a second time
        // (until stop 21).
        let mut tx = self.outbox.begin(&self.pool).await?;
        let imported = match self
            .import_psp_refund_in(&mut tx, order_id, psp, actor)
            .await
        {
            Ok(Some(imported)) => imported,
            Ok(None) => return Ok(None),
            // Imported by another instance since our read: nothing is left to do.
            Err(CancelError::Confirm(ConfirmError::Db(sqlx::Error::Database(db))))
                if db.constraint() == Some("payment_cancels_idempotency_key_key") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        tx.commit().await?;
        self.after_importing(imported, actor).await.map(Some)
    }

    /// [`Self::import_psp_refund`] inside the caller's transaction, which must commit for it
    /// to count: accepting a charge the PSP has partly refunded writes both at once
    /// (attempt/write.rs `record_approval`). An error leaves the transaction unusable.
    pub(crate) async fn import_psp_refund_in(
        &self,
        tx: &mut OutboxTx,
        order_id: &str,
        psp: &TossPayment,
        actor: &str,
    ) -> Result<Option<ImportedRefund>, CancelError> {
        let Some(event) = store::find_event(tx, order_id, true).await? else {
            return Ok(None);
        };
        let missing = psp.refunded() - event.refunded_amount;
        let lines = store::find_lines(tx, event.payment_event_no).await?;
        let paid = matches!(
            order_status(&lines),
            PaymentStatus::Success | PaymentStatus::PartialCanceled
        );
        let open = store::cancels::list(tx, event.payment_event_no)
            .await?
            .iter()
            .any(|c| matches!(c.status, CancelStatus::Requested | CancelStatus::Unknown));
        if missing <= Decimal::ZERO || !paid || open {
            return Ok(None);
        }
        let refundable: Vec<(i64, Decimal)> = lines
            .iter()
            .map(|l| (l.payment_order_no, l.amount - l.refunded_amount))
            .filter(|l| l.1 > Decimal::ZERO)
            .collect();
        let Some(shares) = allocate(&refundable, missing) else {
            tracing::error!(%order_id, %missing, "the PSP refunded more than the order has left");
            return Ok(None);
        };
        let cancel_no = self.ids.next_id()?;
        // One import per refunded total: importing the same PSP state twice conflicts.
        let key = format!("{IMPORT_KEY_PREFIX}{}", psp.refunded().normalize());
        let new = store::cancels::NewCancel {
            cancel_no,
            payment_event_no: event.payment_event_no,
            order_id,
            idempotency_key: Some(&key),
            request_hash: "",
            reason: "PSP_REFUND_RECORDED",
            amount: missing,
            stale_secs: self.stale_after.as_secs_f64(),
            actor,
        };
        store::cancels::insert(tx, new, &shares).await?;
        let cancel = store::cancels::find(tx, cancel_no)
            .await?
            .ok_or_else(|| CancelError::NotFound(cancel_no.to_string()))?;
        let closed = self.complete_cancel_in(tx, &cancel, psp, actor).await?;
        Ok(Some(ImportedRefund {
            cancel,
            closed,
            missing,
        }))
    }

    /// After the import's transaction committed: its log line, metrics and committed row.
    pub(crate) async fn after_importing(
        &self,
        imported: ImportedRefund,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        let ImportedRefund {
            cancel,
            closed,
            missing,
        } = imported;
        tracing::warn!(order_id = %cancel.order_id, %missing,
            "recorded a refund made at the PSP outside order-service");
        self.after_completing(&cancel, closed, actor).await
    }
}

/// A refund made at the PSP, recorded by [`Payments::import_psp_refund_in`] in a transaction
/// not yet committed.
#[derive(Debug)]
pub(crate) struct ImportedRefund {
    cancel: CancelRow,
    closed: Option<PaymentStatus>,
    missing: Decimal,
}
