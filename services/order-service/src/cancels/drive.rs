//! Driving an open cancel at the PSP: the call, with the cancel's own key however often it is
//! repeated, and what its answer makes of the cancel.
//!
//! A repeat (recovery, reconciliation) reads the PSP's record before it calls: the PSP keeps a
//! key's answer for a while only (Toss: 15 days), and a repeat it no longer recognises is a
//! new refund request. For a partial cancel whose lost first call refunded, the balance still
//! covers the amount, so that request refunded the customer a second time. A refusal of a
//! repeat is checked against the record as well; a credentials error of a repeat keeps the
//! cancel open (the record cannot be read with those credentials either). A refusal of the
//! first call is only that: no earlier call exists whose refund the record could show.
//! Which of the record's refunds is the cancel's own: [`own_refund`].

use sqlx::PgConnection;

use super::{psp_key, CancelError};
use crate::{
    payments::Payments,
    psp::{PspOutcome, PspPaymentStatus, TossCancel, TossPayment},
    status::{CancelStatus, PaymentStatus},
    store::{self, cancels::CancelRow},
};

impl Payments {
    /// Calls the PSP for an open cancel again, with the same key (recovery, reconciliation),
    /// and records its answer.
    pub async fn drive_cancel(
        &self,
        cancel_no: i64,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        self.drive(cancel_no, actor, Call::Repeated).await
    }

    /// Calls the PSP for an open cancel and records its answer.
    pub(super) async fn drive(
        &self,
        cancel_no: i64,
        actor: &str,
        call: Call,
    ) -> Result<CancelRow, CancelError> {
        let mut conn = self.pool.acquire().await?;
        let cancel = store::cancels::find(&mut conn, cancel_no)
            .await?
            .ok_or_else(|| CancelError::NotFound(cancel_no.to_string()))?;
        let event = store::find_event(&mut conn, &cancel.order_id, false)
            .await?
            .ok_or_else(|| CancelError::NotFound(cancel.order_id.clone()))?;
        drop(conn);
        if !matches!(
            cancel.status,
            CancelStatus::Requested | CancelStatus::Unknown
        ) {
            return Ok(cancel);
        }
        let Some(payment_key) = event.payment_key.as_deref() else {
            return Err(CancelError::NotCancelable(PaymentStatus::NotStarted));
        };
        if call == Call::Repeated {
            match self.refund_at_psp(&cancel).await {
                RefundAtPsp::Made(done) => return self.record_refund(&cancel, &done, actor).await,
                RefundAtPsp::NotMade => {}
                RefundAtPsp::Unread(why) => {
                    // Calling again blind could refund twice; asked again after the backoff.
                    let mut conn = self.pool.acquire().await?;
                    self.keep_open(&mut conn, &cancel, &why, actor).await?;
                    return Ok(store::cancels::find(&mut conn, cancel_no)
                        .await?
                        .unwrap_or(cancel));
                }
            }
        }
        let answer = self
            .psp
            .cancel(
                payment_key,
                &cancel.cancel_reason,
                Some(cancel.cancel_amount),
                &psp_key(cancel_no),
            )
            .await;
        let mut conn = self.pool.acquire().await?;
        match answer {
            PspOutcome::Answered(p, _)
                if matches!(
                    p.status,
                    PspPaymentStatus::Canceled | PspPaymentStatus::PartialCanceled
                ) =>
            {
                drop(conn);
                return self.record_refund(&cancel, &p, actor).await;
            }
            PspOutcome::Rejected { code, .. } | PspOutcome::Declined { code, .. }
                if call == Call::First =>
            {
                // Refused, and no earlier call exists: nothing was refunded. Before, the PSP's
                // record was read here too, and a refund made elsewhere (the PSP's dashboard,
                // not imported yet) that covered the amount closed this refused cancel DONE.
                reject(&mut conn, cancel_no, &code, actor).await?;
            }
            PspOutcome::Rejected { code, .. } | PspOutcome::Declined { code, .. } => {
                // A refusal of a repeated call (the first one's answer was lost, and its stored
                // reply may be gone) can mean the first call went through: the PSP's record of
                // the payment decides before the cancel is closed as refused.
                // If that record cannot be read, the refusal proves nothing: still open, asked
                // again later (closing it REJECTED here lost refunds the PSP had made).
                drop(conn);
                let at_psp = self.refund_at_psp(&cancel).await;
                conn = self.pool.acquire().await?;
                match at_psp {
                    RefundAtPsp::Made(done) => {
                        drop(conn);
                        return self.record_refund(&cancel, &done, actor).await;
                    }
                    RefundAtPsp::NotMade => reject(&mut conn, cancel_no, &code, actor).await?,
                    RefundAtPsp::Unread(why) => {
                        tracing::warn!(cancel_no, %code, %why, "the PSP refused a repeated \
                            cancel and its record cannot be read; kept UNKNOWN");
                        let reason = format!("{code}; {why}");
                        self.keep_open(&mut conn, &cancel, &reason, actor).await?;
                    }
                }
            }
            PspOutcome::Credentials { code } => {
                self.metrics.credential_errors.inc();
                tracing::error!(order_id = %cancel.order_id, %code,
                    "the PSP refused our merchant credentials (PSP_SECRET_KEY) on a cancel");
                if call == Call::First {
                    // The only call there was, refused: nothing was refunded.
                    reject(&mut conn, cancel_no, &code, actor).await?;
                } else {
                    // An earlier call may have gone through, and with these credentials the
                    // PSP's record cannot be read either: open until it can.
                    self.keep_open(&mut conn, &cancel, &code, actor).await?;
                }
            }
            other => {
                let reason = match other {
                    PspOutcome::Unknown { reason } => reason,
                    PspOutcome::Answered(p, _) => format!("PSP_STATUS_{}", p.status),
                    _ => "PSP_UNCLEAR_ANSWER".into(),
                };
                self.keep_open(&mut conn, &cancel, &reason, actor).await?;
            }
        }
        let after = store::cancels::find(&mut conn, cancel_no)
            .await?
            .unwrap_or(cancel);
        match after.status {
            CancelStatus::Rejected => {
                let code = after.failure_code.clone().unwrap_or_default();
                if code == "UNAUTHORIZED_KEY" || code == "INVALID_API_KEY" {
                    Err(CancelError::Credentials { code })
                } else {
                    Err(CancelError::Refused { code })
                }
            }
            _ => Ok(after),
        }
    }

    /// Records a refund the PSP made for `cancel`. A failure keeps the cancel open and is
    /// counted like an unknown outcome, so it shows up as unresolved instead of looping unseen.
    pub(super) async fn record_refund(
        &self,
        cancel: &CancelRow,
        psp: &TossPayment,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        match self.complete_cancel(cancel, psp, actor).await {
            Ok(done) => Ok(done),
            Err(e) => {
                tracing::error!(cancel_no = cancel.cancel_no, error = %e,
                    "recording a refunded cancel failed");
                let mut conn = self.pool.acquire().await?;
                self.keep_open(&mut conn, cancel, "RECORDING_FAILED", actor)
                    .await?;
                Err(e)
            }
        }
    }

    /// The cancel's outcome is not known (`reason`): UNKNOWN, called again after the backoff.
    async fn keep_open(
        &self,
        conn: &mut PgConnection,
        cancel: &CancelRow,
        reason: &str,
        actor: &str,
    ) -> Result<(), sqlx::Error> {
        let wait = self.backoff(cancel.attempts + 1);
        let retry_secs = wait.as_secs_f64();
        store::cancel_states::mark_unknown(conn, cancel.cancel_no, reason, retry_secs, actor).await
    }

    /// Whether the PSP's record shows this cancel's refund as made: a refund of exactly its
    /// amount, made since it was opened, that no cancel of ours has recorded ([`own_refund`]).
    /// Until stop 24 a refunded total covering ours plus this cancel was enough, and a refund
    /// made in the PSP's dashboard meanwhile (not imported while the cancel is open) closed a
    /// cancel whose own call never reached the PSP: DONE, and the customer short of it.
    pub(super) async fn refund_at_psp(&self, cancel: &CancelRow) -> RefundAtPsp {
        match self.psp.find_by_order_id(&cancel.order_id).await {
            PspOutcome::Answered(p, _) => {
                let recorded = match self.recorded_refunds(cancel).await {
                    Ok(recorded) => recorded,
                    Err(e) => return RefundAtPsp::Unread(format!("RECORDED_REFUNDS: {e}")),
                };
                if own_refund(&p, cancel, &recorded).is_some() {
                    RefundAtPsp::Made(p)
                } else {
                    RefundAtPsp::NotMade
                }
            }
            PspOutcome::Unknown { reason } => RefundAtPsp::Unread(reason),
            PspOutcome::Credentials { code } => {
                // Counted and logged as the call's own credentials error is: with the record
                // read first, a repeat meets a rotated key here, not at the call.
                self.metrics.credential_errors.inc();
                tracing::error!(order_id = %cancel.order_id, %code,
                    "the PSP refused our merchant credentials (PSP_SECRET_KEY) on a lookup");
                RefundAtPsp::Unread(code)
            }
            PspOutcome::Rejected { code, .. } | PspOutcome::Declined { code, .. } => {
                RefundAtPsp::Unread(format!("LOOKUP_{code}"))
            }
            PspOutcome::AlreadyProcessed => RefundAtPsp::Unread("LOOKUP_UNCLEAR".into()),
        }
    }
}

impl Payments {
    /// The PSP transaction keys the cancel's order has recorded.
    pub(super) async fn recorded_refunds(
        &self,
        cancel: &CancelRow,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        store::cancels::recorded_transaction_keys(
            &mut conn,
            cancel.payment_event_no,
            cancel.cancel_no,
        )
        .await
    }
}

/// How far the PSP's clock may run behind ours when a refund is matched to a cancel by time
/// (as reconciliation's `RECONCILE_OVERLAP_MS` allows for).
const CLOCK_SKEW_SECS: i64 = 60;

/// This cancel's refund in the PSP's record, the last that fits: exactly its amount (the PSP
/// refunds what was asked), made no earlier than the cancel was opened, with a transaction key
/// no other cancel of ours has recorded. An entry without a key or a time (Toss always sends
/// both) fits nothing: the miss costs a call with the cancel's own key, the safe direction. A
/// refund made elsewhere of the very same amount in the same minute cannot be told apart;
/// any other can.
pub(super) fn own_refund<'p>(
    psp: &'p TossPayment,
    cancel: &CancelRow,
    recorded: &[String],
) -> Option<&'p TossCancel> {
    let earliest = cancel.created_at - chrono::Duration::seconds(CLOCK_SKEW_SECS);
    psp.cancels.iter().flatten().rev().find(|c| {
        c.cancel_amount == cancel.cancel_amount
            && c.canceled_at.is_some_and(|at| at >= earliest)
            && unrecorded(c, recorded)
    })
}

/// Whether the PSP's refund has a transaction key no other cancel of ours has recorded.
pub(super) fn unrecorded(refund: &TossCancel, recorded: &[String]) -> bool {
    refund
        .transaction_key
        .as_ref()
        .is_some_and(|key| !recorded.contains(key))
}

/// The PSP refused the cancel and nothing was refunded: REJECTED (final), with its code.
pub(super) async fn reject(
    conn: &mut PgConnection,
    cancel_no: i64,
    code: &str,
    actor: &str,
) -> Result<(), sqlx::Error> {
    let closing = store::cancel_states::Closing {
        next: CancelStatus::Rejected,
        failure_code: Some(code),
        transaction_key: None,
        event_id: None,
        actor,
    };
    store::cancel_states::close(conn, cancel_no, closing)
        .await
        .map(|_| ())
}

/// Whether this is the cancel's first call to the PSP (made by the request that opened it)
/// or possibly a repeat of one whose answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    First,
    Repeated,
}

/// The PSP's record of a cancel's refund, read after the PSP refused a call.
pub(super) enum RefundAtPsp {
    Made(TossPayment),
    NotMade,
    /// The record could not be read (why).
    Unread(String),
}

#[cfg(test)]
#[path = "drive_tests.rs"]
mod tests;
