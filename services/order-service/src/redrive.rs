//! Internal completion (docs/payments.md, "Reconciliation"): Postgres is the system of record,
//! so a paid order whose settlement has not come back, or a done cancel whose reversal has not,
//! gets its event re-published from the committed rows — same `eventId` (consumers are
//! idempotent on it), a new `Nats-Msg-Id` (so JetStream's duplicate window lets it through).
//! This repairs a broker that lost acknowledged messages.

use events::Envelope;

use crate::{
    attempt::confirmed_event,
    cancels::canceled_event,
    payments::{ConfirmError, Payments},
    status::CancelStatus,
    store,
};

impl Payments {
    /// Re-publishes `order.payment.confirmed` of a paid, unsettled order.
    pub async fn redrive_settlement(&self, order_id: &str) -> Result<bool, ConfirmError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let Some(event) = store::find_event(&mut tx, order_id, false).await? else {
            return Ok(false);
        };
        let (Some(event_id), Some(key), Some(approved_at)) = (
            event.confirmed_event_id,
            event.payment_key.as_deref(),
            event.approved_at,
        ) else {
            return Ok(false);
        };
        if event.is_wallet_done {
            return Ok(false);
        }
        let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
        let method = event.method.clone().unwrap_or_default();
        let mut envelope =
            Envelope::new(confirmed_event(&event, &lines, key, &method, approved_at));
        envelope.event_id = event_id;
        let msg_id = format!(
            "{event_id}{}{}",
            messaging::REDRIVE_MARK,
            self.ids.next_id()?
        );
        self.outbox
            .append_as(&mut tx, event.payment_event_no, &envelope, &[], &msg_id)
            .await?;
        tx.commit().await?;
        tracing::warn!(%order_id, %event_id, "settlement not confirmed in time; re-published order.payment.confirmed");
        Ok(true)
    }

    /// Re-publishes `order.payment.canceled` of a done cancel whose reversal has not come back.
    pub async fn redrive_reversal(&self, cancel_no: i64) -> Result<bool, ConfirmError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let Some(cancel) = store::cancels::find(&mut tx, cancel_no).await? else {
            return Ok(false);
        };
        let (CancelStatus::Done, Some(event_id), Some(canceled_at), false) = (
            cancel.status,
            cancel.event_id,
            cancel.canceled_at,
            cancel.is_wallet_done,
        ) else {
            return Ok(false);
        };
        let Some(event) = store::find_event(&mut tx, &cancel.order_id, false).await? else {
            return Ok(false);
        };
        let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
        let shares = store::cancels::lines(&mut tx, cancel_no).await?;
        // What had been refunded when this cancel was done (later cancels excluded), so the
        // event reads as it did the first time.
        let refunded_total: rust_decimal::Decimal =
            store::cancels::list(&mut tx, event.payment_event_no)
                .await?
                .iter()
                .filter(|c| c.status == CancelStatus::Done)
                .filter(|c| c.canceled_at.is_some_and(|t| t <= canceled_at))
                .map(|c| c.cancel_amount)
                .sum();
        let mut envelope = Envelope::new(canceled_event(
            &event,
            &cancel,
            &shares,
            &lines,
            refunded_total,
            canceled_at,
        ));
        envelope.event_id = event_id;
        let msg_id = format!(
            "{event_id}{}{}",
            messaging::REDRIVE_MARK,
            self.ids.next_id()?
        );
        self.outbox
            .append_as(&mut tx, event.payment_event_no, &envelope, &[], &msg_id)
            .await?;
        tx.commit().await?;
        tracing::warn!(order_id = %event.order_id, cancel_no, "reversal not confirmed in time; re-published order.payment.canceled");
        Ok(true)
    }

    /// One pass: claims and re-drives what is overdue; returns how many events were re-published.
    pub async fn redrive_due(&self, after_secs: f64, limit: i64) -> Result<usize, ConfirmError> {
        let mut conn = self.pool.acquire().await?;
        let orders = store::recovery::claim_unsettled(&mut conn, after_secs, limit).await?;
        let cancels = store::cancels::claim_unreversed(&mut conn, after_secs, limit).await?;
        drop(conn);
        let mut n = 0;
        // One item's trouble must not stop the others (each was claimed already).
        for order_id in orders {
            match self.redrive_settlement(&order_id).await {
                Ok(done) => n += usize::from(done),
                Err(e) => tracing::warn!(%order_id, error = %e, "re-driving a settlement failed"),
            }
        }
        for cancel_no in cancels {
            match self.redrive_reversal(cancel_no).await {
                Ok(done) => n += usize::from(done),
                Err(e) => tracing::warn!(cancel_no, error = %e, "re-driving a reversal failed"),
            }
        }
        Ok(n)
    }
}
