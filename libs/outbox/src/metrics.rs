//! The relay's figures on the service's own registry (served at `/metrics`), and the worker
//! that refreshes the backlog gauges from the table.

use std::time::Duration;

use prometheus::{IntCounter, IntGauge};
use service_kit::{Metrics, Shutdown};
use sqlx::PgPool;

use crate::store;

#[derive(Clone)]
pub(crate) struct RelayMetrics {
    /// Unpublished rows (INIT or FAILURE), all shards; the same figure on every instance.
    pub backlog: IntGauge,
    /// Age of the oldest unpublished row; alert on it, it grows while NATS is down.
    pub oldest_pending_age_seconds: IntGauge,
    pub published: IntCounter,
    /// Acks that JetStream flagged as duplicates: re-publishes the dedupe window absorbed.
    pub duplicates: IntCounter,
    pub failures: IntCounter,
    /// Published rows sent again because the stream lost them (store.rs `requeue_lost`).
    pub lost_republished: IntCounter,
    /// Shards this instance currently publishes.
    pub owned_shards: IntGauge,
}

impl RelayMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        // A counter vector without labels yields a plain counter without fallible constructors.
        let counter = |name: &str, help: &str| {
            metrics
                .counter_vec(name, help, &[])
                .with_label_values::<&str>(&[])
        };
        Self {
            backlog: metrics.gauge("outbox_backlog", "Outbox rows not yet published"),
            oldest_pending_age_seconds: metrics.gauge(
                "outbox_oldest_pending_age_seconds",
                "Age of the oldest unpublished outbox row",
            ),
            published: counter(
                "outbox_published_total",
                "Outbox rows published and acknowledged by JetStream",
            ),
            duplicates: counter(
                "outbox_publish_duplicates_total",
                "Outbox publishes JetStream acknowledged as duplicates (dropped by Nats-Msg-Id)",
            ),
            failures: counter(
                "outbox_publish_failures_total",
                "Outbox publishes that failed and will be retried",
            ),
            lost_republished: counter(
                "outbox_lost_republished_total",
                "Published outbox rows sent again because the stream had lost them",
            ),
            owned_shards: metrics.gauge(
                "outbox_owned_shards",
                "Outbox shards this relay instance publishes",
            ),
        }
    }
}

/// Refreshes the backlog gauges every `interval` until shutdown.
pub(crate) async fn refresh_backlog(
    pool: PgPool,
    metrics: RelayMetrics,
    interval: Duration,
    shutdown: Shutdown,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.triggered() => return,
            _ = ticks.tick() => {}
        }
        match store::backlog(&pool).await {
            Ok(backlog) => {
                metrics.backlog.set(backlog.rows);
                metrics
                    .oldest_pending_age_seconds
                    .set(backlog.oldest_age_seconds.floor() as i64);
            }
            Err(e) => tracing::warn!(error = %e, "outbox backlog query failed"),
        }
    }
}
