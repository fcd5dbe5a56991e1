//! Consumer throughput: publish N events to one stream, then let consumers with different
//! handlers and settings each work through all of them, and report messages per second.
//!
//! `TEST_NATS_URL=nats://127.0.0.1:4555 cargo bench -p messaging --bench consumer_throughput`
//! (`BENCH_N` changes the number of events, default 20,000). Uses the same per-run database
//! and namespace as the tests, and removes them afterwards.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{record_effect, seller_registered, spec, FnHandler, Harness};
use messaging::{ConsumerSpec, Delivery};
use tokio::sync::Notify;

struct Run {
    label: &'static str,
    durable: &'static str,
    batch: usize,
    concurrency: usize,
    apply_once: bool,
}

const RUNS: [Run; 5] = [
    Run {
        label: "no-op handler",
        durable: "bench-noop",
        batch: 32,
        concurrency: 4,
        apply_once: false,
    },
    Run {
        label: "no-op handler",
        durable: "bench-noop-wide",
        batch: 128,
        concurrency: 16,
        apply_once: false,
    },
    Run {
        label: "apply_once (Postgres)",
        durable: "bench-pg",
        batch: 32,
        concurrency: 4,
        apply_once: true,
    },
    Run {
        label: "apply_once (Postgres)",
        durable: "bench-pg-8",
        batch: 64,
        concurrency: 8,
        apply_once: true,
    },
    Run {
        label: "apply_once (Postgres)",
        durable: "bench-pg-serial",
        batch: 32,
        concurrency: 1,
        apply_once: true,
    },
];

async fn publish_all(h: &Harness, n: usize) -> Duration {
    let started = Instant::now();
    let mut pending = Vec::with_capacity(1000);
    for i in 0..n {
        let envelope = seller_registered(i as i64 + 1);
        let body = serde_json::to_vec(&envelope).expect("json");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.event_id.to_string().as_str());
        pending.push(
            h.js.publish_with_headers(h.subject("seller.registered"), headers, body.into())
                .await
                .expect("publish sent"),
        );
        if pending.len() == 1000 {
            for ack in pending.drain(..) {
                ack.await.expect("publish acked");
            }
        }
    }
    for ack in pending {
        ack.await.expect("publish acked");
    }
    started.elapsed()
}

async fn consume_all(h: &Harness, run: &Run, n: usize) -> Duration {
    let handled = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(Notify::new());
    let mut consumer: ConsumerSpec = spec(run.durable);
    consumer.batch = run.batch;
    consumer.concurrency = run.concurrency;
    let (count, done, pool, apply, durable) = (
        handled.clone(),
        all_done.clone(),
        h.pool.clone(),
        run.apply_once,
        run.durable,
    );
    let started = Instant::now();
    h.spawn(
        consumer,
        FnHandler(move |d: Delivery| {
            let (count, done, pool) = (count.clone(), done.clone(), pool.clone());
            async move {
                if apply {
                    record_effect(&pool, durable, d.event.event_id).await?;
                }
                if count.fetch_add(1, Ordering::SeqCst) + 1 == n {
                    done.notify_one();
                }
                Ok(())
            }
        }),
    )
    .await;
    tokio::time::timeout(Duration::from_secs(600), all_done.notified())
        .await
        .expect("all events handled within 10 minutes");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let h = Harness::start().await;
    let published = publish_all(&h, n).await;
    println!(
        "published {n} events in {:.2} s ({:.0} msg/s, acked)",
        published.as_secs_f64(),
        n as f64 / published.as_secs_f64()
    );
    println!(
        "{:<24} {:>6} {:>12} {:>10} {:>10}",
        "handler", "batch", "concurrency", "seconds", "msg/s"
    );
    for run in &RUNS {
        let took = consume_all(&h, run, n).await;
        println!(
            "{:<24} {:>6} {:>12} {:>10.2} {:>10.0}",
            run.label,
            run.batch,
            run.concurrency,
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
        if run.apply_once {
            let processed: i64 =
                sqlx::query_scalar("select count(*) from processed_events where consumer = $1")
                    .bind(run.durable)
                    .fetch_one(&h.pool)
                    .await
                    .expect("count");
            assert_eq!(processed as usize, n, "every event applied exactly once");
        }
    }
    h.cleanup().await;
}
