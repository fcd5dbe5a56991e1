//! How a relay paces itself. Defaults follow docs/architecture.md §5; tests shrink the periods.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Service name: names the shard group in Redis and appears in logs.
    pub service: &'static str,
    /// Shard count; must equal the [`crate::OutboxWriter`]'s.
    pub shards: u16,
    /// Rows claimed and published at once per shard (the publish window).
    pub batch_size: u32,
    /// How often the relay looks for rows without being nudged: retries that came due, rows
    /// whose nudge was lost (crash between commit and nudge), rows other instances wrote.
    pub sweep_interval: Duration,
    /// The sweep only takes rows at least this old; fresher ones are the nudge's. A row that
    /// another instance wrote into this instance's shards (its nudge woke the other relay)
    /// therefore leaves after `sweep_after` to `sweep_after + sweep_interval`.
    pub sweep_after: Duration,
    /// Longest wait for one publish ack; an unacked row counts as failed.
    pub publish_timeout: Duration,
    /// The longest a relay may hold a claimed batch (its transaction sits idle while the
    /// batch is published); past it Postgres ends the session and frees the rows, so a stalled
    /// relay cannot hold them forever. Must exceed `publish_timeout` by a good margin.
    pub claim_timeout: Duration,
    /// Retry delay after a failed publish: `retry_base · 2^attempts`, at most `retry_max`.
    /// Keep `retry_max` well inside the stream's duplicate window (2 min), so a publish whose
    /// ack was lost is retried while JetStream still drops the copy.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// SUCCESS rows are deleted this long after publishing.
    pub retention: Duration,
    pub purge_interval: Duration,
    /// Rows deleted per statement, so the purge never holds many locks or a long transaction.
    pub purge_batch: u32,
    /// Shard group heartbeat period and the silence after which a member is evicted.
    pub heartbeat: Duration,
    pub eviction: Duration,
    /// How often the outbox table is vacuumed (service_kit::vacuum: its rows are updated
    /// once and deleted an hour later, so dead versions pile up in `outbox_pending_idx`
    /// where autovacuum is off or slow); zero leaves it to autovacuum.
    pub vacuum_interval: Duration,
    /// How often the backlog gauges are refreshed.
    pub metrics_interval: Duration,
}

impl RelayConfig {
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            shards: 4,
            batch_size: 256,
            sweep_interval: Duration::from_secs(1),
            sweep_after: Duration::from_secs(2),
            publish_timeout: Duration::from_secs(5),
            claim_timeout: Duration::from_secs(30),
            retry_base: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
            retention: Duration::from_secs(3600),
            purge_interval: Duration::from_secs(60),
            purge_batch: 1000,
            heartbeat: Duration::from_secs(3),
            eviction: Duration::from_secs(9),
            vacuum_interval: service_kit::vacuum::DEFAULT_INTERVAL,
            metrics_interval: Duration::from_secs(5),
        }
    }

    /// Repairs values that would stall or endanger the relay, logging what it changed.
    pub(crate) fn normalized(mut self) -> Self {
        let service = self.service;
        let fix = |field: &str, from: String, to: String| {
            tracing::warn!(service, field, %from, %to, "outbox relay config adjusted");
        };
        // Zero periods would make `tokio::time::interval` panic.
        for (field, period) in [
            ("sweep_interval", &mut self.sweep_interval),
            ("purge_interval", &mut self.purge_interval),
            ("heartbeat", &mut self.heartbeat),
            ("metrics_interval", &mut self.metrics_interval),
        ] {
            if period.is_zero() {
                *period = Duration::from_millis(1);
                fix(field, "0s".into(), "1ms".into());
            }
        }
        if self.shards == 0 || self.shards > i16::MAX as u16 {
            let shards = self.shards.clamp(1, i16::MAX as u16);
            fix("shards", self.shards.to_string(), shards.to_string());
            self.shards = shards;
        }
        if self.batch_size == 0 {
            fix("batch_size", "0".into(), "1".into());
            self.batch_size = 1;
        }
        if self.purge_batch == 0 {
            fix("purge_batch", "0".into(), "1".into());
            self.purge_batch = 1;
        }
        let min_claim_timeout = self.publish_timeout * 2;
        if self.claim_timeout < min_claim_timeout {
            fix(
                "claim_timeout",
                format!("{:?}", self.claim_timeout),
                format!("{min_claim_timeout:?}"),
            );
            self.claim_timeout = min_claim_timeout;
        }
        if self.eviction <= self.heartbeat {
            let eviction = self.heartbeat * 3;
            fix(
                "eviction",
                format!("{:?}", self.eviction),
                format!("{eviction:?}"),
            );
            self.eviction = eviction;
        }
        self
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self::new("unnamed")
    }
}
