//! Shared set-up for the relay tests: a database of its own per test (with the crate's own
//! `outbox` table, [`outbox::MIGRATOR`]), a namespaced stream on the shared NATS (or a private
//! server), Redis, and helpers to read back what the stream holds.
#![allow(dead_code)] // each test file uses a different part of this module

use std::{
    collections::{BTreeMap, HashSet},
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, stream::StorageType};
use events::{topology::SELLERS, Envelope, SellerRegistered, Topology};
use outbox::{OutboxNudge, OutboxRelay, OutboxWriter, RelayConfig};
use redis::aio::ConnectionManager;
use service_kit::{infra, testing::unique_namespace, Metrics, Shutdown};
use sqlx::PgPool;
use url::Url;

pub const SERVICE: &str = "outbox-test";
pub const SHARDS: u16 = 4;

pub fn shared_nats_url() -> String {
    std::env::var("TEST_NATS_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4555".into())
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into())
}

/// Everything one test needs; `cleanup` drops the database and the stream.
pub struct TestEnv {
    pub namespace: String,
    pub topology: Topology,
    pub db_url: Url,
    pub db_name: String,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub redis: ConnectionManager,
    pub writer: Arc<OutboxWriter>,
}

impl TestEnv {
    /// Against the shared NATS server.
    pub async fn new() -> Self {
        Self::with_nats(&shared_nats_url()).await
    }

    pub async fn with_nats(nats_url: &str) -> Self {
        let namespace = unique_namespace();
        let server = var("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432");
        let db_name = format!("paymsa_outbox_{namespace}");
        let db_url: Url = format!("{}/{db_name}", server.trim_end_matches('/'))
            .parse()
            .expect("valid database url");
        let pool = service_kit::db::connect_and_migrate(&db_url, 8, &[&outbox::MIGRATOR])
            .await
            .expect("test database");
        let nats = infra::connect_nats(nats_url, SERVICE)
            .await
            .expect("NATS >= 2.11 at TEST_NATS_URL");
        let redis = infra::connect_redis(&var("TEST_REDIS_URL", "redis://127.0.0.1:6379"))
            .await
            .expect("redis");
        let topology = Topology::new(namespace.clone());
        let ids = Arc::new(snowflake::Snowflake::new(1).expect("node id"));
        Self {
            writer: Arc::new(OutboxWriter::new(ids, topology.clone(), SHARDS)),
            js: jetstream::new(nats.clone()),
            namespace,
            topology,
            db_url,
            db_name,
            pool,
            nats,
            redis,
        }
    }

    /// The stream the messaging lib provisions in production, reduced to what matters here.
    pub async fn provision_stream(&self) {
        self.js
            .get_or_create_stream(jetstream::stream::Config {
                name: self.stream_name(),
                subjects: vec![self.topology.subject(SELLERS.subjects)],
                storage: StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .expect("stream created");
    }

    pub fn stream_name(&self) -> String {
        self.topology.stream_name(&SELLERS)
    }

    /// Every message in the stream, in order: (subject, Nats-Msg-Id, headers, payload).
    pub async fn stream_messages(&self) -> Vec<StoredMessage> {
        let mut stream = match self.js.get_stream(self.stream_name()).await {
            Ok(stream) => stream,
            Err(_) => return Vec::new(),
        };
        let state = stream.info().await.expect("stream info").state.clone();
        let mut messages = Vec::new();
        if state.messages == 0 {
            return messages;
        }
        for sequence in state.first_sequence..=state.last_sequence {
            let raw = stream
                .get_raw_message(sequence)
                .await
                .expect("stream message");
            let header = |name: &str| {
                raw.headers
                    .get(name)
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default()
            };
            messages.push(StoredMessage {
                subject: raw.subject.to_string(),
                message_id: header("Nats-Msg-Id"),
                traceparent: header("traceparent"),
                payload: raw.payload.to_vec(),
            });
        }
        messages
    }

    pub async fn stream_message_count(&self) -> u64 {
        match self.js.get_stream(self.stream_name()).await {
            Ok(mut stream) => stream.info().await.expect("stream info").state.messages,
            Err(_) => 0,
        }
    }

    /// Appends one event per `shard_by` value, each in its own committed transaction.
    /// Returns the envelopes' event ids (= idempotency keys) in order.
    pub async fn append_events(&self, shard_by: impl IntoIterator<Item = i64>) -> Vec<String> {
        let mut keys = Vec::new();
        for aggregate in shard_by {
            let envelope = Envelope::new(SellerRegistered {
                seller_no: aggregate,
                seller_id: format!("seller-{aggregate}"),
            });
            let mut tx = self.pool.begin().await.expect("begin");
            self.writer
                .append(&mut tx, aggregate, &envelope, &[])
                .await
                .expect("append");
            tx.commit().await.expect("commit");
            keys.push(envelope.event_id.to_string());
        }
        keys
    }

    /// Row count per status.
    pub async fn statuses(&self) -> BTreeMap<String, i64> {
        sqlx::query_as::<_, (String, i64)>("select status, count(*) from outbox group by status")
            .fetch_all(&self.pool)
            .await
            .expect("status query")
            .into_iter()
            .collect()
    }

    pub async fn count_with_status(&self, status: &str) -> i64 {
        self.statuses().await.get(status).copied().unwrap_or(0)
    }

    /// The status of the row `id`, `None` when there is no such row.
    pub async fn status_of(&self, id: i64) -> Option<String> {
        sqlx::query_scalar::<_, String>("select status from outbox where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .expect("status query")
    }

    /// Waits until exactly `count` rows have `status`; how long it took, `None` on timeout.
    pub async fn wait_for_status(
        &self,
        status: &str,
        count: i64,
        timeout: Duration,
    ) -> Option<Duration> {
        wait_until(timeout, || async {
            self.count_with_status(status).await == count
        })
        .await
    }

    /// [`TestEnv::wait_for_status`] for `count` SUCCESS rows that fails the test, naming the
    /// statuses, on timeout; how long it took.
    pub async fn expect_published(&self, count: i64, timeout: Duration) -> Duration {
        match self.wait_for_status("SUCCESS", count, timeout).await {
            Some(took) => took,
            None => panic!(
                "{count} rows not SUCCESS within {timeout:?}: {:?}",
                self.statuses().await
            ),
        }
    }

    /// A relay instance on this outbox with its own metrics; trigger the shutdown to stop it.
    pub fn spawn_relay(&self, config: RelayConfig) -> (OutboxNudge, Metrics, Shutdown) {
        let (metrics, shutdown) = (Metrics::new(SERVICE), Shutdown::new());
        let nudge = OutboxRelay::spawn(
            config,
            self.pool.clone(),
            self.js.clone(),
            self.redis.clone(),
            &metrics,
            &shutdown,
        );
        (nudge, metrics, shutdown)
    }

    pub async fn cleanup(self) {
        let _ = self.js.delete_stream(self.stream_name()).await;
        self.pool.close().await;
        let _ = service_kit::db::drop_database(&self.db_url).await;
    }
}

#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub subject: String,
    pub message_id: String,
    pub traceparent: String,
    pub payload: Vec<u8>,
}

/// Asserts the stream holds exactly one message per key, and nothing else.
pub fn assert_exactly_once(messages: &[StoredMessage], keys: &[String]) {
    let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        distinct.len(),
        "duplicate messages in the stream"
    );
    let expected: HashSet<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(
        distinct, expected,
        "stream holds other events than appended"
    );
}

/// Short periods so tests run in about a second; eviction stays 3 × heartbeat.
pub fn fast_config() -> RelayConfig {
    RelayConfig {
        service: SERVICE,
        shards: SHARDS,
        batch_size: 64,
        sweep_interval: Duration::from_millis(200),
        sweep_after: Duration::from_millis(400),
        publish_timeout: Duration::from_secs(1),
        claim_timeout: Duration::from_secs(3),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        retention: Duration::from_secs(3600),
        purge_interval: Duration::from_secs(3600),
        purge_batch: 100,
        heartbeat: Duration::from_millis(300),
        eviction: Duration::from_millis(900),
        vacuum_interval: Duration::ZERO,
        metrics_interval: Duration::from_millis(100),
    }
}

/// Polls `check` every 20 ms until it holds; returns how long it took, or `None` on timeout.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return Some(started.elapsed());
        }
        if started.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A sample's value from the Prometheus text the service would serve.
pub fn metric(metrics: &Metrics, name: &str) -> f64 {
    let full = format!("paymsa_{name}");
    metrics
        .render()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let series_name = series.split('{').next()?;
            (series_name == full).then(|| value.parse().ok())?
        })
        .unwrap_or(f64::NAN)
}

/// Waits until the metric `name` (without `paymsa_`) is `value`; false on timeout.
pub async fn metric_reaches(metrics: &Metrics, name: &str, value: f64, timeout: Duration) -> bool {
    wait_until(timeout, || async { metric(metrics, name) == value })
        .await
        .is_some()
}

/// `shard_by` values, `per_shard` of them landing in each of the 4 shards.
pub fn aggregates_per_shard(per_shard: usize, offset: i64) -> Vec<i64> {
    let mut buckets: Vec<Vec<i64>> = vec![Vec::new(); usize::from(SHARDS)];
    let mut candidate = offset;
    while buckets.iter().any(|b| b.len() < per_shard) {
        let shard = outbox::shard_key(candidate, SHARDS) as usize;
        if buckets[shard].len() < per_shard {
            buckets[shard].push(candidate);
        }
        candidate += 1;
    }
    buckets.into_iter().flatten().collect()
}
