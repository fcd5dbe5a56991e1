//! The payout recovery job (one per instance, every `PAYOUT_RECOVERY_INTERVAL_MS`): open
//! payouts whose next look is due are claimed (their next look pushed ahead in the claiming
//! statement, so two instances do not take the same one) and looked up at the PSP
//! (`GET /v2/payouts?refPayoutId=`). What the PSP knows is applied; a payout it never got is
//! asked for again with the same Idempotency-Key. Like order-service's recovery: a REQUESTED
//! payout left by a process that died before calling the PSP, an UNKNOWN one (timeout, 5xx),
//! and a SENT one whose webhook has not come within `PAYOUT_LOOKUP_AFTER_MS`.
//!
//! With `PAYOUT_SCHEDULE=daily@HH:MM` the same job also pays out, once a day after that UTC
//! time, each seller's whole available balance ([`super::auto`]).

use std::time::Duration;

use service_kit::{JobPasses, Shutdown};

use super::{auto, flow::Payouts, settings::Schedule, store};

/// An EXPRESS payout completes within minutes at Toss; one still open after an hour is a
/// person's (docs/operations.md, "payments that need a person").
pub const UNRESOLVED_AFTER_SECS: f64 = 3600.0;

/// One pass: looks at up to `batch` due payouts; returns how many.
pub async fn recover_due(payouts: &Payouts, batch: i64) -> Result<usize, sqlx::Error> {
    // A lookup makes up to three PSP calls (find, a repeat, a second look): the claim
    // outlasts them, so no other instance takes the payout meanwhile.
    let claim_ms = (payouts.settings.psp_timeout.as_millis() as i64)
        .saturating_mul(4)
        .saturating_add(1000);
    let due = {
        let mut conn = payouts.pool.acquire().await?;
        match store::count_unresolved(&mut conn, UNRESOLVED_AFTER_SECS).await {
            Ok(n) => payouts.unresolved.set(n),
            Err(e) => tracing::warn!(error = %e, "counting unresolved payouts failed"),
        }
        store::claim_due(&mut conn, batch, claim_ms).await?
    };
    for payout in &due {
        if let Err(e) = payouts.lookup(payout, "lookup").await {
            tracing::warn!(payout_no = %payout.payout_no, error = %e, "payout lookup failed");
        }
    }
    Ok(due.len())
}

/// Spawns the job on the service's shutdown.
pub fn spawn(payouts: Payouts, passes: JobPasses, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    let every = payouts.settings.recovery_interval;
    shutdown.spawn("payout-recovery", async move {
        const BATCH: i64 = 50;
        loop {
            if let Schedule::Daily(at) = payouts.settings.schedule {
                if let Err(e) = auto::run_if_due(&payouts, at).await {
                    tracing::warn!(error = %e, "automatic payouts failed; will retry");
                }
            }
            let recovered = recover_due(&payouts, BATCH).await;
            if recovered.is_ok() {
                passes.passed();
            }
            let pause = match recovered {
                Ok(n) if n as i64 >= BATCH => Duration::ZERO,
                Ok(_) => every,
                Err(e) => {
                    tracing::warn!(error = %e, "payout recovery pass failed; will retry");
                    every
                }
            };
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    });
}
