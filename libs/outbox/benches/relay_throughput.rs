//! Relay throughput against the real Postgres, NATS (`TEST_NATS_URL`, default
//! nats://127.0.0.1:4555) and Redis.
//!
//! 1. drain: 20,000 events committed (100 per transaction) while no relay runs; then one relay
//!    starts and we time commit → ack → SUCCESS for all of them (to the last `published_at`).
//! 2. live: 4 writers commit one event per transaction and nudge, relay running; reports the
//!    commit → SUCCESS latency percentiles from the rows themselves.
//! 3. raw: plain JetStream async publishing of the same number of messages, same payload size,
//!    same window (batch) size, to a stream with the same settings: the ceiling for the relay.
//!
//! Run with `cargo bench -p outbox`; `OUTBOX_BENCH_EVENTS` / `OUTBOX_BENCH_BATCH` override.

use std::{
    future::IntoFuture,
    sync::Arc,
    time::{Duration, Instant},
};

use async_nats::jetstream::{self, message::PublishMessage, stream::StorageType};
use events::{topology::SELLERS, Envelope, SellerRegistered, Topology};
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{infra, Metrics, Shutdown};
use sqlx::PgPool;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn stream_config(name: String, subjects: String) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name,
        subjects: vec![subjects],
        storage: StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

struct Bench {
    pool: PgPool,
    js: jetstream::Context,
    redis: redis::aio::ConnectionManager,
    writer: Arc<OutboxWriter>,
    topology: Topology,
    batch: u32,
}

fn envelope(n: i64) -> Envelope<SellerRegistered> {
    Envelope::new(SellerRegistered {
        seller_no: n,
        seller_id: format!("seller-{n:08}"),
    })
}

impl Bench {
    fn relay_config(&self) -> RelayConfig {
        RelayConfig {
            batch_size: self.batch,
            ..RelayConfig::new("outbox-bench")
        }
    }

    async fn wait_all_published(&self, expected: i64) -> Result<(), BoxError> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let done: i64 =
                sqlx::query_scalar("select count(*) from outbox where status = 'SUCCESS'")
                    .fetch_one(&self.pool)
                    .await?;
            if done >= expected {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("only {done} of {expected} published").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Commits `events` (100 per transaction) with no relay running, then times the relay.
    async fn drain(&self, events: usize) -> Result<f64, BoxError> {
        let started = Instant::now();
        for chunk in (0..events as i64).collect::<Vec<_>>().chunks(100) {
            let mut tx = self.pool.begin().await?;
            for &n in chunk {
                self.writer.append(&mut tx, n, &envelope(n), &[]).await?;
            }
            tx.commit().await?;
        }
        let append_secs = started.elapsed().as_secs_f64();
        println!(
            "append : {events} events in {append_secs:.2} s ({:.0} events/s, 100 per transaction)",
            events as f64 / append_secs
        );

        let shutdown = Shutdown::new();
        let t0: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select clock_timestamp()")
            .fetch_one(&self.pool)
            .await?;
        let nudge = OutboxRelay::spawn(
            self.relay_config(),
            self.pool.clone(),
            self.js.clone(),
            self.redis.clone(),
            &Metrics::new("outbox-bench"),
            &shutdown,
        );
        nudge.nudge();
        self.wait_all_published(events as i64).await?;
        shutdown.trigger();
        let secs: f64 = sqlx::query_scalar(
            "select extract(epoch from max(published_at) - $1)::float8 from outbox",
        )
        .bind(t0)
        .fetch_one(&self.pool)
        .await?;
        Ok(events as f64 / secs)
    }

    /// Writers commit one event per transaction and nudge, as request handlers do.
    async fn live(&self, events: usize, writers: usize) -> Result<(), BoxError> {
        sqlx::query("delete from outbox")
            .execute(&self.pool)
            .await?;
        let shutdown = Shutdown::new();
        let nudge = OutboxRelay::spawn(
            self.relay_config(),
            self.pool.clone(),
            self.js.clone(),
            self.redis.clone(),
            &Metrics::new("outbox-bench"),
            &shutdown,
        );
        // Let the first heartbeat assign the shards.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let (pool, writer, nudge) = (self.pool.clone(), self.writer.clone(), nudge.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..events / writers {
                    let n = 1_000_000 + (w * events + i) as i64;
                    let mut tx = pool.begin().await?;
                    writer.append(&mut tx, n, &envelope(n), &[]).await?;
                    tx.commit().await?;
                    nudge.nudge();
                }
                Ok::<(), BoxError>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let total = (events / writers * writers) as i64;
        self.wait_all_published(total).await?;
        let elapsed = started.elapsed().as_secs_f64();
        shutdown.trigger();
        let (p50, p99, max): (f64, f64, f64) = sqlx::query_as(
            "select percentile_cont(0.5) within group (order by ms), \
                    percentile_cont(0.99) within group (order by ms), max(ms) \
             from (select extract(epoch from published_at - created_at)::float8 * 1000 as ms \
                   from outbox) latencies",
        )
        .fetch_one(&self.pool)
        .await?;
        println!(
            "live   : {total} events, {writers} writers, 1 per transaction + nudge: \
             {:.0} events/s end to end; commit→SUCCESS p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
            total as f64 / elapsed
        );
        Ok(())
    }

    /// Plain JetStream async publishing: windows of `batch` publishes, then all their acks.
    async fn raw(&self, events: usize, payload_len: usize) -> Result<f64, BoxError> {
        let name = format!("{}_BENCHRAW", self.topology.namespace().to_uppercase());
        let subject = self.topology.subject("bench.raw");
        self.js
            .create_stream(stream_config(name.clone(), subject.clone()))
            .await?;
        let payload = vec![b'x'; payload_len];
        let started = Instant::now();
        let mut sent = 0;
        while sent < events {
            let window = (events - sent).min(self.batch as usize);
            let mut acks = Vec::with_capacity(window);
            for i in sent..sent + window {
                let message = PublishMessage::build()
                    .payload(payload.clone().into())
                    .message_id(format!("raw-{i}"));
                acks.push(self.js.send_publish(subject.clone(), message).await?);
            }
            for ack in
                futures::future::join_all(acks.into_iter().map(IntoFuture::into_future)).await
            {
                ack?;
            }
            sent += window;
        }
        let rate = events as f64 / started.elapsed().as_secs_f64();
        self.js.delete_stream(&name).await?;
        Ok(rate)
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let events: usize = env_or("OUTBOX_BENCH_EVENTS", "20000").parse()?;
    let batch: u32 = env_or(
        "OUTBOX_BENCH_BATCH",
        &RelayConfig::default().batch_size.to_string(),
    )
    .parse()?;
    let namespace = format!(
        "bench{}",
        uuid::Uuid::new_v4().simple().to_string().split_at(8).0
    );
    let db_url: url::Url = format!(
        "{}/paymsa_outbox_{namespace}",
        env_or("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432").trim_end_matches('/')
    )
    .parse()?;
    let pool = service_kit::db::connect_and_migrate(&db_url, 10, &[&outbox::MIGRATOR]).await?;
    let nats =
        infra::connect_nats(&env_or("TEST_NATS_URL", "nats://127.0.0.1:4555"), "bench").await?;
    let redis = infra::connect_redis(&env_or("TEST_REDIS_URL", "redis://127.0.0.1:6379")).await?;
    let topology = Topology::new(namespace.clone());
    let js = jetstream::new(nats);
    js.create_stream(stream_config(
        topology.stream_name(&SELLERS),
        topology.subject(SELLERS.subjects),
    ))
    .await?;
    let bench = Bench {
        writer: Arc::new(OutboxWriter::new(
            Arc::new(snowflake::Snowflake::new(1)?),
            topology.clone(),
            4,
        )),
        pool: pool.clone(),
        js: js.clone(),
        redis,
        topology: topology.clone(),
        batch,
    };

    println!("outbox relay throughput: {events} events, publish window {batch}");
    let relay_rate = bench.drain(events).await?;
    let payload_len: i32 = sqlx::query_scalar("select max(length(payload::text)) from outbox")
        .fetch_one(&pool)
        .await?;
    println!("relay  : {relay_rate:.0} events/s commit→ack→SUCCESS (drain of {events} committed rows, payload {payload_len} B)");
    let raw_rate = bench.raw(events, payload_len as usize).await?;
    println!("raw    : {raw_rate:.0} msgs/s JetStream async publish, same window and payload size");
    println!("ratio  : relay / raw = {:.2}", relay_rate / raw_rate);
    bench.live(events / 4, 4).await?;

    let _ = js.delete_stream(topology.stream_name(&SELLERS)).await;
    pool.close().await;
    service_kit::db::drop_database(&db_url).await?;
    Ok(())
}
