//! An operator's resolution of a cancel left open (docs/operations.md, "A cancel open for
//! good"). Recovery repeats an open cancel for as long as the PSP gives no definite answer,
//! and a code no list of ours knows (psp/outcome.rs `classify_error`) is no definite answer.
//! Meanwhile the order takes no other cancel and reconciliation imports none of the PSP's
//! refunds of it (import.rs), so a refund support makes in the PSP's dashboard stays off our
//! books. Resolving decides from the PSP's record, as a repeat does before it calls: the
//! refund is there → DONE from it; it is not → REJECTED (`CLOSED_BY_OPERATOR`), which lets the
//! order be cancelled again and its dashboard refunds be imported. A refund the PSP still made
//! after that is found by reconciliation and imported like a dashboard refund.

use super::{
    drive::{reject, RefundAtPsp},
    CancelError,
};
use crate::{
    payments::Payments, recovery::UNRESOLVED_CANCEL_ATTEMPTS, status::CancelStatus, store,
    store::cancels::CancelRow,
};

/// The reason a cancel closed by an operator carries (its history keeps who).
pub const CLOSED_BY_OPERATOR: &str = "CLOSED_BY_OPERATOR";

impl Payments {
    /// Closes an open cancel from the PSP's record; a closed one is answered as it is.
    pub async fn resolve_cancel(
        &self,
        cancel_no: i64,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        let mut conn = self.pool.acquire().await?;
        let cancel = store::cancels::find(&mut conn, cancel_no)
            .await?
            .ok_or_else(|| CancelError::NotFound(cancel_no.to_string()))?;
        if !matches!(
            cancel.status,
            CancelStatus::Requested | CancelStatus::Unknown
        ) {
            return Ok(cancel);
        }
        // Only what recovery has given up on settling by itself: earlier, a refund refused
        // by a slow PSP may still land, and recovery repeats the call with the same key.
        if cancel.attempts < UNRESOLVED_CANCEL_ATTEMPTS {
            return Err(CancelError::NotUnresolved(cancel.attempts));
        }
        // No drive beside this one, and none whose calls may still be under way: a repeat
        // makes up to three calls (a lookup, the call, a lookup) and its database work besides,
        // and can outlast its lease; twice the longer of the two is the margin.
        let lease = self.stale_after.as_secs_f64();
        let quiet = 2.0 * lease.max(3.0 * self.psp.timeout().as_secs_f64());
        if !store::cancel_states::claim_idle(&mut conn, cancel_no, lease, quiet).await? {
            return Err(CancelError::BeingDriven);
        }
        drop(conn);
        match self.refund_at_psp(&cancel).await {
            RefundAtPsp::Made(done) => self.record_refund(&cancel, &done, actor).await,
            RefundAtPsp::NotMade => {
                let mut conn = self.pool.acquire().await?;
                reject(&mut conn, cancel_no, CLOSED_BY_OPERATOR, actor).await?;
                drop(conn);
                self.find_cancel(cancel_no).await
            }
            RefundAtPsp::Unread(why) => Err(CancelError::PspUnreadable(why)),
        }
    }
}

impl Payments {
    /// The cancel as it is now.
    pub async fn find_cancel(&self, cancel_no: i64) -> Result<CancelRow, CancelError> {
        let mut conn = self.pool.acquire().await?;
        store::cancels::find(&mut conn, cancel_no)
            .await?
            .ok_or_else(|| CancelError::NotFound(cancel_no.to_string()))
    }
}
