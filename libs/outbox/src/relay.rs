//! The relay: publishes committed outbox rows of the shards this instance owns.
//!
//! One publisher task per instance, woken by a nudge (right after a commit), by a change of
//! shard ownership, or by the sweep timer. Running both paths in one task means a nudge and
//! a sweep never race for the same rows within an instance; across instances, row claims
//! keep them apart. Each round claims a batch per owned shard, publishes it through a
//! window, then records the outcome of every row in the claiming transaction: SUCCESS only
//! for acked rows, FAILURE with backoff otherwise.

use std::{sync::Arc, time::Duration};

use async_nats::{connection::State, jetstream::Context};
use redis::aio::ConnectionManager;
use service_kit::{Metrics, Shutdown};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{watch, Notify};

use crate::{
    config::RelayConfig,
    metrics::{self, RelayMetrics},
    nudge::{DirtyShards, OutboxNudge, ShardMask},
    publisher::{self, Outcome},
    purger,
    shards::{Ownership, ShardCoordinator},
    store::{self, ClaimFilter, RetryBackoff, ShardTarget},
};

pub struct OutboxRelay;

impl OutboxRelay {
    /// Spawns the relay's workers on `shutdown`: the publisher (nudge + sweep), the purger,
    /// the table's vacuum, the shard coordinator's heartbeat and the backlog gauges. On
    /// shutdown the publisher finishes its in-flight batch and the coordinator leaves the
    /// shard group.
    pub fn spawn(
        config: RelayConfig,
        pool: PgPool,
        js: Context,
        redis: ConnectionManager,
        metrics: &Metrics,
        shutdown: &Shutdown,
    ) -> OutboxNudge {
        let config = config.normalized();
        let nudge = OutboxNudge {
            wake: Arc::new(Notify::new()),
            dirty: DirtyShards::default(),
        };
        let relay_metrics = RelayMetrics::register(metrics);
        // Relays share shards exactly when they share an outbox table, i.e. a database.
        let scope = pool
            .connect_options()
            .get_database()
            .unwrap_or("postgres")
            .to_string();
        let coordinator = ShardCoordinator::new(
            redis,
            ShardCoordinator::key(config.service, &scope),
            config.shards,
            config.heartbeat,
            config.eviction,
        );
        tracing::info!(
            service = config.service,
            member = coordinator.member(),
            shards = config.shards,
            "outbox relay starting"
        );
        let publisher = Publisher {
            ownership: coordinator.watch(),
            config: config.clone(),
            pool: pool.clone(),
            js,
            metrics: relay_metrics.clone(),
            wake: nudge.wake.clone(),
            dirty: nudge.dirty.clone(),
        };
        shutdown.spawn("outbox-coordinator", coordinator.run(shutdown.clone()));
        shutdown.spawn("outbox-publisher", publisher.run(shutdown.clone()));
        shutdown.spawn(
            "outbox-purger",
            purger::run(pool.clone(), config.clone(), shutdown.clone()),
        );
        service_kit::vacuum::spawn_vacuum(
            pool.clone(),
            service_kit::vacuum::VacuumSchedule {
                tables: vec!["outbox"],
                interval: config.vacuum_interval,
            },
            shutdown,
        );
        shutdown.spawn(
            "outbox-backlog",
            metrics::refresh_backlog(
                pool,
                relay_metrics,
                config.metrics_interval,
                shutdown.clone(),
            ),
        );
        nudge
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Nudge,
    OwnershipChanged,
    Sweep,
}

struct Publisher {
    config: RelayConfig,
    pool: PgPool,
    js: Context,
    metrics: RelayMetrics,
    wake: Arc<Notify>,
    dirty: DirtyShards,
    ownership: watch::Receiver<Ownership>,
}

impl Publisher {
    async fn run(mut self, shutdown: Shutdown) {
        let mut sweep = tokio::time::interval(self.config.sweep_interval);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut coordinator_running = true;
        loop {
            let trigger = tokio::select! {
                biased;
                _ = shutdown.triggered() => return,
                changed = self.ownership.changed(), if coordinator_running => {
                    coordinator_running = changed.is_ok();
                    let owned = self.ownership.borrow().shards().len();
                    self.metrics.owned_shards.set(owned as i64);
                    Trigger::OwnershipChanged
                }
                // The sweep ranks before the nudge: under steady traffic a nudge is nearly
                // always pending, and a nudged pass looks only at the nudged shards, so a
                // retry due in a quiet shard would otherwise wait as long as the traffic.
                _ = sweep.tick() => Trigger::Sweep,
                _ = self.wake.notified() => Trigger::Nudge,
            };
            self.drain(trigger, &shutdown).await;
        }
    }

    /// Publishes until nothing is due. Each round takes one batch from every shard it looks
    /// at (the nudged ones on a nudge, every owned one otherwise) at once, each in its own
    /// transaction, so database and broker round trips overlap while each shard still has
    /// one batch in flight (its order holds). Rounds repeat for the shards that filled a batch
    /// and got it all acked. A round in which rows were tried and none was acked means the
    /// broker or stream is in trouble and ends the pass: the failed rows back off, and
    /// hammering a broken broker helps no one.
    async fn drain(&self, trigger: Trigger, shutdown: &Shutdown) {
        let min_age = match trigger {
            Trigger::Sweep => self.config.sweep_after,
            // A new owner takes over everything due: the old owner's rows are not fresh.
            Trigger::Nudge | Trigger::OwnershipChanged => Duration::ZERO,
        };
        let limit = self.config.batch_size;
        let mut looking_at = match trigger {
            Trigger::Nudge => self.dirty.take(),
            // A new owner takes every due row of every shard: what was nudged is covered.
            Trigger::OwnershipChanged => {
                self.dirty.take();
                ShardMask::ALL
            }
            // The sweep leaves rows younger than `sweep_after` alone, so the nudged shards
            // stay marked for the nudge pass that follows (its wake-up is still pending).
            Trigger::Sweep => ShardMask::ALL,
        };
        loop {
            let targets: Vec<ShardTarget> = self
                .ownership
                .borrow()
                .targets()
                .into_iter()
                .filter(|&t| looking_at.covers(t))
                .collect();
            if targets.is_empty() {
                return;
            }
            // Claiming while disconnected would only push the rows into backoff; leave them
            // untouched and let the sweep pick them up after the reconnect.
            if self.js.client().connection_state() != State::Connected {
                tracing::debug!("NATS disconnected; outbox rows wait");
                return;
            }
            let round = targets.iter().map(|&target| {
                self.publish_batch(ClaimFilter {
                    target,
                    min_age,
                    limit,
                })
            });
            let (mut tried, mut acked) = (0, 0);
            let mut more_due = ShardMask::default();
            for (batch, &target) in futures::future::join_all(round).await.iter().zip(&targets) {
                match batch {
                    Ok(batch) => {
                        tried += batch.rows;
                        acked += batch.acked;
                        if batch.rows >= limit as usize && batch.acked == batch.rows {
                            more_due = more_due.with_target(target);
                        }
                    }
                    // Nothing recorded: the rows stay due and are published again (JetStream
                    // drops the copies of those that did go out).
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox batch failed; its rows will be retried")
                    }
                }
            }
            if (tried > 0 && acked == 0) || more_due.is_empty() || shutdown.is_triggered() {
                return;
            }
            looking_at = more_due;
        }
    }

    /// Claims, publishes and records one batch in one transaction.
    async fn publish_batch(&self, filter: ClaimFilter) -> Result<Batch, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let rows = store::claim_due(&mut tx, filter).await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(Batch { rows: 0, acked: 0 });
        }
        if let ShardTarget::Beyond(from) = filter.target {
            tracing::warn!(
                rows = rows.len(),
                from,
                "outbox rows beyond the relay's shard count: writer and relay shard counts differ"
            );
        }
        store::configure_claim(&mut tx, self.config.claim_timeout).await?;
        let count = rows.len();
        let outcomes = publisher::publish_window(
            &self.js,
            self.config.service,
            rows,
            self.config.publish_timeout,
        )
        .await;
        let acked = self.record(&mut tx, outcomes).await?;
        tx.commit().await?;
        Ok(Batch { rows: count, acked })
    }

    /// Stores the outcome of a batch; returns how many rows were acked.
    async fn record(
        &self,
        conn: &mut PgConnection,
        outcomes: Vec<(i64, Outcome)>,
    ) -> Result<usize, sqlx::Error> {
        let mut acked = Vec::with_capacity(outcomes.len());
        let mut failed = Vec::new();
        let mut duplicates = 0;
        for (id, outcome) in outcomes {
            match outcome {
                Outcome::Acked { duplicate, seq } => {
                    duplicates += u64::from(duplicate);
                    acked.push(store::Acked {
                        id,
                        seq: i64::try_from(seq).unwrap_or(i64::MAX),
                    });
                }
                Outcome::Failed(reason) => failed.push((id, reason)),
            }
        }
        self.metrics.published.inc_by(acked.len() as u64);
        self.metrics.duplicates.inc_by(duplicates);
        self.metrics.failures.inc_by(failed.len() as u64);
        store::mark_published(conn, &acked).await?;
        let lost = store::requeue_lost(conn, &acked).await?;
        if lost > 0 {
            self.metrics.lost_republished.inc_by(lost);
            tracing::warn!(
                rows = lost,
                "the stream lost published events (a stream sequence was given out again): \
                 publishing them again"
            );
        }
        if let Some((id, reason)) = failed.first() {
            tracing::warn!(
                failed = failed.len(),
                first_id = id,
                first_error = %service_kit::error_chain(reason),
                "outbox publishes failed; retrying with backoff"
            );
            let backoff = RetryBackoff {
                base: self.config.retry_base,
                max: self.config.retry_max,
            };
            // the row keeps the failure's own text (its cause is in the log above)
            let failed: Vec<(i64, String)> = failed
                .iter()
                .map(|(id, reason)| (*id, reason.to_string()))
                .collect();
            store::mark_failed(conn, &failed, backoff).await?;
        }
        Ok(acked.len())
    }
}

struct Batch {
    rows: usize,
    acked: usize,
}
