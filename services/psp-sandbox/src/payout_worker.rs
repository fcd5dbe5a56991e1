//! Settles payouts: every REQUESTED payout whose `due_at` has passed becomes COMPLETED (or
//! FAILED with the error planned when it was requested), with its `payout.changed` webhook
//! queued in the same transaction. The queue is the table, so a restarted sandbox settles
//! what an earlier one left REQUESTED.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use service_kit::Shutdown;

use crate::{payout_store, state::Sandbox, webhooks};

/// Longest wait between polls (payouts may be added by another sandbox on the database).
const IDLE: Duration = Duration::from_secs(1);
const BATCH: i64 = 100;

pub async fn run(sandbox: Arc<Sandbox>, shutdown: Shutdown) {
    loop {
        let wait = match settle(&sandbox).await {
            Ok(wait) => wait,
            Err(err) => {
                tracing::warn!(error = %err, "payout settlement failed");
                IDLE
            }
        };
        tokio::select! {
            () = shutdown.triggered() => break,
            () = sandbox.payouts_due.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Settles what is due; answers how long until the next payout is.
async fn settle(sandbox: &Sandbox) -> Result<Duration, sqlx::Error> {
    loop {
        let mut tx = sandbox.pool.begin().await?;
        let settled = payout_store::settle_due(&mut tx, BATCH).await?;
        for payout in &settled {
            webhooks::payout_changed(sandbox, &mut tx, payout).await?;
        }
        tx.commit().await?;
        if !settled.is_empty() {
            tracing::info!(count = settled.len(), "payouts settled");
            sandbox.webhooks_due.notify_one();
        }
        if settled.len() < BATCH as usize {
            break;
        }
    }
    let mut conn = sandbox.pool.acquire().await?;
    let next = payout_store::next_due(&mut conn).await?;
    Ok(next.map_or(IDLE, |at| {
        let ms = (at - Utc::now()).num_milliseconds().clamp(5, 1000);
        Duration::from_millis(ms as u64)
    }))
}
