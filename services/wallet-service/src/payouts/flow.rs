//! Moving a committed payout on: asking the PSP, applying what it says (from its answer, a
//! lookup or a signed webhook), and the terminal entries. Every path ends in the same guarded
//! transitions, so a webhook, the API's own call and the recovery job converge on one outcome
//! in any order, and each terminal entry is posted once (its key, and the status guard under
//! the payout's row lock).

use std::sync::Arc;

use prometheus::IntGauge;
use snowflake::Snowflake;
use sqlx::PgPool;

use super::{
    psp::{PayoutCall, PspPayout, PspPayouts},
    settings::PayoutSettings,
    store::{self, Change, PayoutRow},
    PayoutStatus,
};
use crate::{ids::PayoutNo, ledger::payouts as ledger, store as wallets};

/// Everything the payout paths need; cheap to clone.
#[derive(Clone)]
pub struct Payouts {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub psp: PspPayouts,
    pub settings: Arc<PayoutSettings>,
    /// Open payouts requested over an hour ago (alert `PaymsaPayoutsUnresolved`).
    pub unresolved: IntGauge,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("no id: {0}")]
    Id(String),
}

/// What applying a PSP status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The payout moved (to SENT, COMPLETED or FAILED).
    Changed,
    /// Nothing to do: it was there already, or past it.
    Unchanged,
}

impl Payouts {
    fn backoff_ms(&self, attempts: i32) -> i64 {
        let base = self.settings.recovery_interval.as_millis() as i64;
        let max = self.settings.max_backoff.as_millis() as i64;
        let shift = attempts.clamp(0, 16) as u32;
        base.saturating_mul(1 << shift).min(max)
    }

    /// Asks the PSP to pay (the first time, or again with the same Idempotency-Key) and
    /// applies the answer; returns the payout as it is afterwards.
    pub async fn send(&self, payout: &PayoutRow, source: &str) -> Result<(), FlowError> {
        let call = self
            .psp
            .create(payout.payout_no, payout.seller_no, payout.amount)
            .await;
        self.apply_call(payout, call, source).await
    }

    /// Looks the payout up at the PSP: applies what it knows, or (never created there) asks
    /// again with the same key.
    pub async fn lookup(&self, payout: &PayoutRow, source: &str) -> Result<(), FlowError> {
        match self.psp.find(payout.payout_no).await {
            PayoutCall::Answered(None) => {
                let call = self
                    .psp
                    .create(payout.payout_no, payout.seller_no, payout.amount)
                    .await;
                let call = match call {
                    PayoutCall::Rejected { code, message } => {
                        self.second_look(payout, code, message).await
                    }
                    call => call,
                };
                self.apply_call(payout, call, source).await
            }
            // A refused lookup says nothing about the payout: never fail it on that.
            PayoutCall::Rejected { code, message } => {
                let reason = format!("lookup refused: {code}: {message}");
                self.apply_call(payout, PayoutCall::Unknown(reason), source)
                    .await
            }
            call => self.apply_call(payout, call, source).await,
        }
    }

    /// A repeat the PSP refused. The first call may have reached it, and a lookup may lag
    /// behind it: its record is read once more, and only "it has none" (for a payout it never
    /// acknowledged) lets the refusal fail the payout and hand the money back. Anything else
    /// keeps it open, looked up again with backoff and counted in `payouts_unresolved`.
    async fn second_look(&self, payout: &PayoutRow, code: String, message: String) -> PayoutCall {
        match self.psp.find(payout.payout_no).await {
            PayoutCall::Answered(None) if payout.status != PayoutStatus::Sent => {
                PayoutCall::Rejected { code, message }
            }
            found @ PayoutCall::Answered(Some(_)) => found,
            PayoutCall::Answered(None) => PayoutCall::Unknown(format!(
                "PSP_RECORD_GONE: the PSP acknowledged this payout, now has no record of it \
                 and refused the repeat ({code}: {message})"
            )),
            PayoutCall::Rejected { code: c, .. } | PayoutCall::Unknown(c) => PayoutCall::Unknown(
                format!("a repeat was refused ({code}: {message}); its record is unreadable: {c}"),
            ),
        }
    }

    async fn apply_call(
        &self,
        payout: &PayoutRow,
        call: PayoutCall,
        source: &str,
    ) -> Result<(), FlowError> {
        let call = match call {
            PayoutCall::Answered(Some(item))
                if !item.describes(payout.payout_no, payout.seller_no, payout.amount) =>
            {
                tracing::error!(payout_no = %payout.payout_no, ?item,
                    "the PSP's payout does not match ours; left open for a person");
                PayoutCall::Unknown(format!("PSP_MISMATCH: {} {}", item.id, item.ref_payout_id))
            }
            call => call,
        };
        match call {
            PayoutCall::Answered(Some(item)) => {
                self.apply(payout.payout_no, &item, source).await?;
            }
            PayoutCall::Answered(None) => {
                let mut conn = self.pool.acquire().await?;
                let next = self.backoff_ms(payout.attempts);
                store::record_attempt(&mut conn, payout.payout_no, next, Some("empty answer"))
                    .await?;
            }
            PayoutCall::Rejected { code, message } => {
                tracing::warn!(payout_no = %payout.payout_no, %code, %message, "PSP refused the payout");
                self.finish(
                    payout.payout_no,
                    PayoutStatus::Failed,
                    None,
                    Some((&code, &message)),
                    source,
                )
                .await?;
            }
            PayoutCall::Unknown(reason) => {
                tracing::warn!(payout_no = %payout.payout_no, %reason, "payout outcome unknown");
                let mut conn = self.pool.acquire().await?;
                let next = self.backoff_ms(payout.attempts);
                let change = Change {
                    next_attempt_in_ms: Some(next),
                    detail: Some(&reason),
                    ..Default::default()
                };
                store::transition(
                    &mut conn,
                    payout.payout_no,
                    PayoutStatus::Unknown,
                    source,
                    &change,
                )
                .await?;
                store::record_attempt(&mut conn, payout.payout_no, next, Some(&reason)).await?;
            }
        }
        Ok(())
    }

    /// Applies the PSP's view of the payout (its answer, a lookup or an authenticated webhook).
    pub async fn apply(
        &self,
        payout_no: PayoutNo,
        item: &PspPayout,
        source: &str,
    ) -> Result<Applied, FlowError> {
        match item.status.as_str() {
            "COMPLETED" => {
                self.finish(
                    payout_no,
                    PayoutStatus::Completed,
                    Some(&item.id),
                    None,
                    source,
                )
                .await
            }
            "FAILED" => {
                let (code, message) = item.error.as_ref().map_or(("PAYOUT_FAILED", ""), |e| {
                    (e.code.as_str(), e.message.as_str())
                });
                self.finish(
                    payout_no,
                    PayoutStatus::Failed,
                    Some(&item.id),
                    Some((code, message)),
                    source,
                )
                .await
            }
            _ => {
                let mut conn = self.pool.acquire().await?;
                let change = Change {
                    psp_payout_id: Some(&item.id),
                    next_attempt_in_ms: Some(self.settings.lookup_after.as_millis() as i64),
                    ..Default::default()
                };
                let moved =
                    store::transition(&mut conn, payout_no, PayoutStatus::Sent, source, &change)
                        .await?;
                if !moved {
                    // Still waiting at the PSP: look again later.
                    let next = self.settings.lookup_after.as_millis() as i64;
                    store::record_attempt(&mut conn, payout_no, next, None).await?;
                }
                Ok(if moved {
                    Applied::Changed
                } else {
                    Applied::Unchanged
                })
            }
        }
    }

    /// COMPLETED or FAILED, with its entry, in one transaction under the wallet and payout
    /// locks (wallet first, like every ledger writer).
    async fn finish(
        &self,
        payout_no: PayoutNo,
        to: PayoutStatus,
        psp_payout_id: Option<&str>,
        failure: Option<(&str, &str)>,
        source: &str,
    ) -> Result<Applied, FlowError> {
        let mut tx = self.pool.begin().await?;
        let Some(seen) = store::find(&mut tx, payout_no).await? else {
            return Ok(Applied::Unchanged);
        };
        let Some(wallet) = wallets::lock_wallet_by_seller(&mut tx, seen.seller_no).await? else {
            return Ok(Applied::Unchanged);
        };
        let Some(payout) = store::lock(&mut tx, payout_no).await? else {
            return Ok(Applied::Unchanged);
        };
        if !payout.is_open() {
            return Ok(Applied::Unchanged);
        }
        // A refusal (a failure without the PSP's record) never fails a payout the PSP once
        // acknowledged, judged on the locked row: the row a job claimed may be older than a
        // webhook's or another instance's SENT (found in review). It stays open and is looked
        // up again; after an hour `payouts_unresolved` shows it.
        let acknowledged = payout.status == PayoutStatus::Sent
            || payout.psp_payout_id.is_some()
            || payout.sent_at.is_some();
        if to == PayoutStatus::Failed && psp_payout_id.is_none() && acknowledged {
            tracing::warn!(%payout_no, ?failure,
                "the PSP refused a repeat of a payout it acknowledged; left open, looked up again");
            // Counted with its backoff like any unknown outcome, so the job does not ask the
            // PSP again at every pass (tests/payouts.rs
            // `a_refusal_judged_on_a_stale_row_never_fails_a_payout_acknowledged_meanwhile`).
            let (code, message) = failure.unwrap_or(("REFUSED", ""));
            let reason = format!(
                "PSP_REFUSED_ACKNOWLEDGED: the PSP refused a repeat of a payout it acknowledged \
                 ({code}: {message})"
            );
            let next = self.backoff_ms(payout.attempts);
            store::record_attempt(&mut tx, payout_no, next, Some(&reason)).await?;
            tx.commit().await?;
            return Ok(Applied::Unchanged);
        }
        let change = Change {
            psp_payout_id,
            failure,
            next_attempt_in_ms: None,
            detail: failure.map(|f| f.0),
        };
        if !store::transition(&mut tx, payout_no, to, source, &change).await? {
            return Ok(Applied::Unchanged);
        }
        if to == PayoutStatus::Completed {
            ledger::post_completed(&mut tx, payout.seller_no, payout_no, payout.amount).await?;
        } else {
            let id = self
                .ids
                .next_id()
                .map_err(|e| FlowError::Id(e.to_string()))?;
            ledger::post_failed(&mut tx, &wallet, payout_no, payout.amount, id).await?;
        }
        tx.commit().await?;
        tracing::info!(%payout_no, status = %to, source, "payout settled");
        Ok(Applied::Changed)
    }
}
