//! Completing a cancel the PSP refunded: DONE, the lines' refunds and history, and
//! `order.payment.canceled`, in one transaction and once; and that event's payload, which the
//! re-drive of [`crate::redrive`] rebuilds from the same rows.

use chrono::{DateTime, Utc};
use events::{CanceledLine, Envelope, PaymentCanceled};
use rust_decimal::Decimal;

use outbox::OutboxTx;

use super::CancelError;
use crate::{
    payments::Payments,
    psp::TossPayment,
    status::{CancelStatus, PaymentStatus},
    store::{
        self,
        cancels::{CancelLineRow, CancelRow},
        PaymentEventRow, PaymentOrderRow,
    },
};

/// `order.payment.canceled` of one cancel: `refunded_total` is what the order had refunded
/// once this cancel was done.
pub fn canceled_event(
    event: &PaymentEventRow,
    cancel: &CancelRow,
    shares: &[CancelLineRow],
    lines: &[PaymentOrderRow],
    refunded_total: Decimal,
    canceled_at: DateTime<Utc>,
) -> PaymentCanceled {
    let status = if refunded_total == event.total_amount {
        PaymentStatus::Canceled
    } else {
        PaymentStatus::PartialCanceled
    };
    PaymentCanceled {
        payment_event_no: event.payment_event_no,
        member_no: event.member_no,
        order_id: event.order_id.clone(),
        cancel_no: cancel.cancel_no,
        cancel_reason: cancel.cancel_reason.clone(),
        cancel_amount: cancel.cancel_amount,
        refunded_total,
        balance_amount: event.total_amount - refunded_total,
        total_amount: event.total_amount,
        canceled_at,
        status: status.to_string(),
        lines: shares
            .iter()
            .filter_map(|s| {
                let line = lines
                    .iter()
                    .find(|l| l.payment_order_no == s.payment_order_no)?;
                Some(CanceledLine {
                    payment_order_no: s.payment_order_no,
                    product_no: line.product_no,
                    seller_no: line.seller_no,
                    amount: s.amount,
                    line_amount: line.amount,
                })
            })
            .collect(),
    }
}

impl Payments {
    /// The PSP refunded the cancel: DONE, the lines' refunds and history, the event, once.
    pub(super) async fn complete_cancel(
        &self,
        cancel: &CancelRow,
        psp: &TossPayment,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let closed = self.complete_cancel_in(&mut tx, cancel, psp, actor).await?;
        tx.commit().await?;
        self.after_completing(cancel, closed, actor).await
    }

    /// [`Self::complete_cancel`] in the caller's transaction, which then commits it and calls
    /// [`Self::after_completing`] with the answer: the order's status when this call closed
    /// the cancel, `None` when it was closed already.
    pub(super) async fn complete_cancel_in(
        &self,
        tx: &mut OutboxTx,
        cancel: &CancelRow,
        psp: &TossPayment,
        actor: &str,
    ) -> Result<Option<PaymentStatus>, CancelError> {
        let event = store::find_event(tx, &cancel.order_id, true)
            .await?
            .ok_or_else(|| CancelError::NotFound(cancel.order_id.clone()))?;
        // The PSP's entry for this cancel; else (an import of refunds made at the PSP, opened
        // after them) the last no other cancel has recorded; else the last.
        let recorded =
            store::cancels::recorded_transaction_keys(tx, event.payment_event_no, cancel.cancel_no)
                .await?;
        let refunds = || psp.cancels.iter().flatten();
        let transaction_key = super::drive::own_refund(psp, cancel, &recorded)
            .or_else(|| {
                refunds()
                    .rev()
                    .find(|c| super::drive::unrecorded(c, &recorded))
            })
            .or_else(|| refunds().last())
            .and_then(|c| c.transaction_key.clone());
        let shares = store::cancels::lines(tx, cancel.cancel_no).await?;
        let lines = store::find_lines(tx, event.payment_event_no).await?;
        let refunded_total = event.refunded_amount + cancel.cancel_amount;
        let status = if refunded_total == event.total_amount {
            PaymentStatus::Canceled
        } else {
            PaymentStatus::PartialCanceled
        };
        let event_id = uuid::Uuid::now_v7();
        let closing = store::cancel_states::Closing {
            next: CancelStatus::Done,
            failure_code: None,
            transaction_key: transaction_key.as_deref(),
            event_id: Some(event_id),
            actor,
        };
        let closed = store::cancel_states::close_returning(tx, cancel.cancel_no, closing).await?;
        let Some(canceled_at) = closed else {
            return Ok(None);
        };
        let mut canceled = Envelope::new(canceled_event(
            &event,
            cancel,
            &shares,
            &lines,
            refunded_total,
            canceled_at.unwrap_or_else(chrono::Utc::now),
        ));
        canceled.event_id = event_id;
        let ids = self.history_ids(shares.len())?;
        let refunded = store::cancels::refund_lines(tx, &ids, cancel.cancel_no, actor).await?;
        // Every share's line must take its refund: the event's total, the wallet's reversal and
        // the PSP move for all of them. A line no longer refundable (a hand fix, a defect in a
        // transition) would leave the order's total ahead of its lines, and the next cancel's
        // shares computed from stale lines; nothing of it is written (the caller keeps the
        // cancel open as RECORDING_FAILED, listed for a person).
        if refunded != shares.len() as u64 {
            return Err(CancelError::LinesNotRefundable {
                cancel_no: cancel.cancel_no,
                shares: shares.len(),
                refunded,
            });
        }
        self.outbox
            .append(tx, event.payment_event_no, &canceled, &[])
            .await?;
        let psp_refunded = psp.refunded();
        if psp_refunded != refunded_total {
            tracing::warn!(order_id = %event.order_id, %psp_refunded, ours = %refunded_total,
                "the PSP's refunded total differs from ours; reconciliation will list it");
        }
        Ok(Some(status))
    }

    /// After the commit: the metric of a cancel this call closed, and the cancel as it is now.
    pub(super) async fn after_completing(
        &self,
        cancel: &CancelRow,
        closed: Option<PaymentStatus>,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        if let Some(status) = closed {
            self.metrics
                .record(&cancel.order_id, "CANCELED", &status.to_string(), actor);
        }
        let mut conn = self.pool.acquire().await?;
        Ok(store::cancels::find(&mut conn, cancel.cancel_no)
            .await?
            .unwrap_or_else(|| cancel.clone()))
    }
}
