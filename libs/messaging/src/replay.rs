//! In-process replay of a dead letter (issue 14): the stored message runs through the
//! handler of the consumer that gave up on it, in the service that owns the letter, instead
//! of being republished to its subject.
//!
//! Why not republish: every consumer of the subject would see the event again, and not every
//! consumer's idempotency outlives the dead-letter table (hot-catalog's seen-markers expire
//! after 8 days, services/hot-catalog-service/src/ranking; letters are kept for 30), so an old
//! replay could count a purchase twice. And a service may only publish its own subjects.
//!
//! [`spawn_consumer`](crate::spawn_consumer) registers each handler in the service's
//! [`Replayers`]; the dead-letter API ([`crate::dead_letters::api`]) looks the letter's
//! consumer up and runs [`Replayers::run`]. Whether the handler applied the event or found it
//! applied before is reported through a task-local [`Probe`]: [`crate::claim_event`] notes a
//! duplicate itself, a handler with its own dedupe calls [`note_duplicate`].

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, RwLock,
    },
    time::Duration,
};

use futures::{future::BoxFuture, FutureExt};
use service_kit::trace;
use tokio::time::Instant;
use tracing::Instrument;

use crate::{metrics::ConsumerMetrics, Delivery, Handler, HandlerError};

/// The header a replayed delivery carries: the dead letter's id (logs, handlers, traces).
pub const REPLAY_OF: &str = "Paymsa-Replay-Of";

/// What a handler reported during one replay.
#[derive(Debug, Default)]
struct Probe {
    duplicate: AtomicBool,
}

tokio::task_local! {
    static PROBE: Arc<Probe>;
}

/// Tells a running replay that this consumer had already applied the event and changed
/// nothing. [`crate::claim_event`] calls it; a handler with its own dedupe (a Redis marker)
/// calls it when the marker was there. Outside a replay it does nothing.
pub fn note_duplicate() {
    let _ = PROBE.try_with(|p| p.duplicate.store(true, Ordering::SeqCst));
}

/// True while a replay runs in this task: [`crate::GroupCommit`] then applies the delivery in
/// the caller's task (a group of one) so the probe sees what the handler reports.
pub(crate) fn replaying() -> bool {
    PROBE.try_with(|_| ()).is_ok()
}

/// What a replay that did not fail found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    /// The handler applied the event and committed.
    Applied,
    /// The consumer had applied the event before; nothing changed.
    Duplicate,
}

/// Why a replay could not run the handler or the handler failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No consumer of that name runs in this service (renamed or removed since).
    #[error("no consumer {0} runs in this service")]
    UnknownConsumer(String),
    /// The handler failed again; the message is as undeliverable as before.
    #[error(transparent)]
    Failed(HandlerError),
}

trait Target: Send + Sync {
    fn run<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>>;
}

struct HandlerTarget<H> {
    handler: Arc<H>,
}

impl<H: Handler> Target for HandlerTarget<H> {
    fn run<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(self.handler.handle(delivery))
    }
}

struct Entry {
    target: Arc<dyn Target>,
    metrics: ConsumerMetrics,
    service: String,
    handler_timeout: Duration,
}

/// The handlers of one service's consumers, by durable name, for replays.
#[derive(Clone, Default)]
pub struct Replayers(Arc<RwLock<HashMap<String, Arc<Entry>>>>);

impl std::fmt::Debug for Replayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Replayers").field(&self.consumers()).finish()
    }
}

impl Replayers {
    pub(crate) fn register<H: Handler>(
        &self,
        durable: &str,
        service: &str,
        handler: Arc<H>,
        metrics: ConsumerMetrics,
        handler_timeout: Duration,
    ) {
        let entry = Entry {
            target: Arc::new(HandlerTarget { handler }),
            metrics,
            service: service.to_string(),
            handler_timeout,
        };
        // A poisoned lock only means a panic elsewhere while inserting; the map is still whole.
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert(durable.to_string(), Arc::new(entry));
    }

    /// The registered durables, sorted.
    pub fn consumers(&self) -> Vec<String> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = map.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn contains(&self, consumer: &str) -> bool {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.contains_key(consumer)
    }

    /// Runs `delivery` through `consumer`'s handler as the runner runs a live one (trace
    /// continued, panics and the handler timeout turned into a retryable failure, latency
    /// observed), tagged with `replay_of` (the dead letter's id) in its span and metrics.
    pub async fn run(
        &self,
        consumer: &str,
        delivery: &Delivery,
        replay_of: i64,
    ) -> Result<Replayed, ReplayError> {
        let entry = {
            let map = self.0.read().unwrap_or_else(|e| e.into_inner());
            map.get(consumer).cloned()
        }
        .ok_or_else(|| ReplayError::UnknownConsumer(consumer.to_string()))?;
        let span = tracing::info_span!(
            "replay",
            otel.kind = "consumer",
            otel.name = %format!("replay {consumer}"),
            service = %entry.service,
            consumer,
            subject = %delivery.subject,
            stream_seq = delivery.stream_seq,
            replay_of,
            event_id = %delivery.event.event_id,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        let ctx = trace::begin(&span, delivery.traceparent());
        let probe = Arc::new(Probe::default());
        let started = Instant::now();
        let work = AssertUnwindSafe(trace::scope(ctx, entry.target.run(delivery)))
            .catch_unwind()
            .instrument(span.clone());
        let result = PROBE
            .scope(
                probe.clone(),
                tokio::time::timeout(entry.handler_timeout, work),
            )
            .await;
        entry
            .metrics
            .handle_seconds
            .observe(started.elapsed().as_secs_f64());
        let result = match result {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(HandlerError::retry("handler panicked")),
            Err(_) => Err(HandlerError::retry(format!(
                "handler timed out after {:?}",
                entry.handler_timeout
            ))),
        };
        let outcome = match result {
            Ok(()) if probe.duplicate.load(Ordering::SeqCst) => Ok(Replayed::Duplicate),
            Ok(()) => Ok(Replayed::Applied),
            Err(e) => Err(e),
        };
        let label = match &outcome {
            Ok(Replayed::Applied) => "applied",
            Ok(Replayed::Duplicate) => "duplicate",
            Err(_) => "failed",
        };
        entry.metrics.replay(label);
        match &outcome {
            Ok(_) => tracing::info!(parent: &span, outcome = label, "dead letter replayed"),
            Err(e) => tracing::warn!(parent: &span, error = %e, "dead letter replay failed again"),
        }
        outcome.map_err(ReplayError::Failed)
    }
}
