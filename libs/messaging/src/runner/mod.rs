//! The pull loop shared by business consumers and the dead-letter worker.
//!
//! Retry policy lives here, on the client, because of two measured server behaviours
//! (docs/architecture.md §5): a consumer `backoff` list *replaces* `ack_wait` (a slow handler then gets a
//! second, concurrent copy), and a plain NAK ignores `backoff`. So the consumer has no
//! server-side backoff, `ack_wait` stays well above the slowest handler (and is extended with
//! progress acks while one runs), and a failed delivery is NAKed with the delay for its
//! delivery count, except the last, which is NAKed at once so the MAX_DELIVERIES advisory fires
//! without waiting out a delay.

mod config;
mod handle;

use std::{
    future::Future,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use async_nats::{
    client::Statistics,
    jetstream::{consumer::PullConsumer, Context},
};
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::{FutureExt, StreamExt};
use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;

pub(crate) use config::RunnerConfig;

use crate::{error::ConsumerError, metrics::ConsumerMetrics, HandlerError};

/// How long one pull request waits on the server for messages. Short enough that a pull lost
/// in a NATS outage is replaced within seconds after reconnecting.
const PULL_EXPIRES: Duration = Duration::from_secs(5);

/// Where a delivery stands: the message's stream sequence and how often it was delivered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub stream_seq: u64,
    pub delivered: u64,
}

/// What the runner does with a message once pulled.
pub(crate) trait Process: Send + Sync + 'static {
    fn process(
        &self,
        message: async_nats::Message,
        position: Position,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Creates the durable consumer, or brings an existing one up to this configuration.
pub(crate) async fn ensure_consumer(
    js: &Context,
    cfg: &RunnerConfig,
) -> Result<PullConsumer, ConsumerError> {
    js.create_consumer_on_stream(cfg.consumer_config(), &cfg.stream)
        .await
        .map_err(|source| ConsumerError::Create {
            durable: cfg.durable.clone(),
            stream: cfg.stream.clone(),
            source,
        })
}

fn reconnect_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Resolves once the client has connected again since `connects` was read.
async fn reconnected(stats: &Statistics, connects: u64) {
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    while stats.connects.load(Ordering::Relaxed) == connects {
        ticks.tick().await;
    }
}

async fn pause(stop: &CancellationToken, delay: Duration) {
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(delay) => {}
    }
}

enum BatchEnd {
    /// Filled or expired: pull again.
    Done,
    /// The pull failed (outage, consumer deleted, leader change): re-create and pull again.
    Failed(String),
    Stopped,
}

/// The whole life of one consumer: pull, handle with bounded concurrency, ack; survive
/// outages and bad messages; on shutdown stop pulling, finish what was received, ack, return.
pub(crate) async fn run<P: Process>(
    js: Context,
    cfg: Arc<RunnerConfig>,
    consumer: PullConsumer,
    process: Arc<P>,
    metrics: ConsumerMetrics,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut consumer = Some(consumer);
    let mut backoff = reconnect_backoff();
    let client = js.client();
    let worker = Worker {
        cfg: cfg.clone(),
        process,
        metrics,
        permits,
    };
    while !stop.is_cancelled() {
        let current = match consumer.take() {
            Some(c) => c,
            None => match ensure_consumer(&js, &cfg).await {
                Ok(c) => {
                    tracing::info!(consumer = %cfg.durable, "consumer re-created; pulling again");
                    c
                }
                Err(e) => {
                    tracing::warn!(consumer = %cfg.durable, error = %e, "consumer unavailable; retrying");
                    pause(&stop, backoff.next().unwrap_or(Duration::from_secs(5))).await;
                    continue;
                }
            },
        };
        match worker
            .pull_batch(&current, &client, &mut tasks, &stop)
            .await
        {
            BatchEnd::Done => {
                backoff = reconnect_backoff();
                consumer = Some(current);
            }
            BatchEnd::Failed(e) => {
                tracing::warn!(consumer = %cfg.durable, error = %e, "pull failed; re-creating the pull");
                pause(&stop, backoff.next().unwrap_or(Duration::from_secs(5))).await;
            }
            BatchEnd::Stopped => break,
        }
    }
    // Drain: every received message is handled and acked before the worker reports stopped.
    while tasks.join_next().await.is_some() {}
    if let Err(e) = client.flush().await {
        tracing::warn!(consumer = %cfg.durable, error = %e, "flushing acks on shutdown failed");
    }
    tracing::info!(consumer = %cfg.durable, "consumer stopped");
}

struct Worker<P> {
    cfg: Arc<RunnerConfig>,
    process: Arc<P>,
    metrics: ConsumerMetrics,
    permits: Arc<Semaphore>,
}

impl<P: Process> Worker<P> {
    async fn pull_batch(
        &self,
        consumer: &PullConsumer,
        client: &async_nats::Client,
        tasks: &mut JoinSet<()>,
        stop: &CancellationToken,
    ) -> BatchEnd {
        // A reconnect loses the server's side of the pull request; without noticing it, the
        // batch would sit idle until its own timer runs out.
        let stats = client.statistics();
        let connects = stats.connects.load(Ordering::Relaxed);
        let request = consumer
            .batch()
            .max_messages(self.cfg.batch.max(1))
            .expires(PULL_EXPIRES)
            .messages();
        let mut batch = tokio::select! {
            biased;
            _ = stop.cancelled() => return BatchEnd::Stopped,
            batch = request => match batch {
                Ok(batch) => batch,
                Err(e) => return BatchEnd::Failed(e.to_string()),
            },
        };
        let end = loop {
            while let Some(done) = tasks.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(consumer = %self.cfg.durable, error = %e, "handler task failed");
                }
            }
            // Take a message only when it can start at once, so none waits out its ack_wait
            // in our buffer behind slow handlers.
            let permit = tokio::select! {
                biased;
                _ = stop.cancelled() => break BatchEnd::Stopped,
                permit = self.permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break BatchEnd::Stopped,
                },
            };
            let next = tokio::select! {
                biased;
                _ = stop.cancelled() => break BatchEnd::Stopped,
                next = batch.next() => next,
                _ = reconnected(&stats, connects) => {
                    break BatchEnd::Failed("reconnected to NATS; the pending pull was lost".into())
                }
            };
            match next {
                None => return BatchEnd::Done,
                Some(Ok(message)) => {
                    tasks.spawn(self.handle(message, permit));
                }
                Some(Err(e)) => return BatchEnd::Failed(e.to_string()),
            }
        };
        // Messages the server already sent us are handled rather than left to time out (a
        // redelivery would cost them one of their few deliveries).
        while let Some(Some(Ok(message))) = batch.next().now_or_never() {
            if let Ok(permit) = self.permits.clone().acquire_owned().await {
                tasks.spawn(self.handle(message, permit));
            }
        }
        end
    }
}
