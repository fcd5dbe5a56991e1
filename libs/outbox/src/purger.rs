//! Deleting published rows once they are older than the retention period. The table only
//! needs unpublished rows; kept SUCCESS rows serve inspection ("was it sent, when?").

use std::time::Duration;

use service_kit::Shutdown;
use sqlx::PgPool;

use crate::{config::RelayConfig, store};

/// Deletes SUCCESS rows published more than `retention` ago, `batch_size` rows per
/// statement, and returns how many went. Unpublished rows are never touched, however old.
pub async fn purge_published(
    pool: &PgPool,
    retention: Duration,
    batch_size: u32,
) -> Result<u64, sqlx::Error> {
    purge_until(pool, retention, batch_size.max(1), None).await
}

/// Batches until a short one, stopping early (between batches) on shutdown.
async fn purge_until(
    pool: &PgPool,
    retention: Duration,
    batch_size: u32,
    shutdown: Option<&Shutdown>,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = store::purge_batch(pool, retention, batch_size).await?;
        total += deleted;
        if deleted < u64::from(batch_size) || shutdown.is_some_and(Shutdown::is_triggered) {
            return Ok(total);
        }
        // Let request handlers at the pool between batches.
        tokio::task::yield_now().await;
    }
}

pub(crate) async fn run(pool: PgPool, config: RelayConfig, shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(config.purge_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.triggered() => return,
            _ = ticks.tick() => {}
        }
        match purge_until(&pool, config.retention, config.purge_batch, Some(&shutdown)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "purged published outbox rows"),
            Err(e) => tracing::warn!(error = %e, "purging the outbox failed"),
        }
    }
}
