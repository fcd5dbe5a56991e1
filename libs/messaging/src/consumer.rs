//! Business consumers: what a service declares ([`ConsumerSpec`]), what its handler sees
//! ([`Delivery`]) and returns ([`HandlerError`]), and [`spawn_consumer`], which creates the
//! durable and runs it until the service shuts down.

use std::{future::Future, sync::Arc, time::Duration};

use async_nats::{jetstream::Context, HeaderMap};
use bytes::Bytes;
use events::{Envelope, EnvelopeHeader, Event, StreamDef, Topology};
use service_kit::{Metrics, Shutdown};

use crate::{
    error::{ConsumerError, HandlerError},
    metrics::{poll_consumer_info, ConsumerMetrics},
    replay::Replayers,
    runner::{self, Position, Process, RunnerConfig},
};

/// One delivery of one message, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The deployed subject (namespaced in tests).
    pub subject: String,
    pub payload: Bytes,
    pub headers: HeaderMap,
    /// How often this message has been delivered, this delivery included (1 the first time).
    pub delivered: u64,
    pub stream_seq: u64,
    /// The envelope's header; a message without a decodable one never reaches the handler.
    pub event: EnvelopeHeader,
}

/// What a re-drive's `Nats-Msg-Id` carries after the event id.
pub const REDRIVE_MARK: &str = "-redrive-";

impl Delivery {
    /// Decodes the whole envelope as `E`; a wrong type or unknown version is a
    /// [`HandlerError::Reject`].
    pub fn decode<E: Event>(&self) -> Result<Envelope<E>, HandlerError> {
        Ok(events::decode::<E>(&self.payload)?)
    }

    /// The W3C trace context the producer sent along, if any.
    pub fn traceparent(&self) -> Option<&str> {
        self.header("traceparent")
    }

    /// A producer's re-drive of an event it never heard back about (same `eventId`, a
    /// `Nats-Msg-Id` ending in `-redrive-<n>`; see services/order-service/src/redrive.rs): a
    /// consumer that already applied the event should answer again from its committed state,
    /// because its first answer may be what the broker lost.
    pub fn is_redrive(&self) -> bool {
        self.header("Nats-Msg-Id")
            .is_some_and(|id| id.contains(REDRIVE_MARK))
    }

    /// The first value of header `name` (`None` also for a name NATS would not accept).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = async_nats::HeaderName::try_from(name).ok()?;
        self.headers.get(name).map(|v| v.as_str())
    }
}

/// A service's reaction to one event. Implement it with `async fn handle(&self, delivery:
/// &Delivery) -> Result<(), HandlerError>`; it must be safe under redelivery (see
/// [`crate::apply_once`]).
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, delivery: &Delivery) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// What a service declares about one of its durable consumers.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name, e.g. `wallet-settlement` (not namespaced: the stream already is).
    pub durable: &'static str,
    pub stream: StreamDef,
    /// Unqualified subjects, e.g. `seller.registered`; namespaced via [`Topology::subject`].
    pub filter_subjects: Vec<&'static str>,
    /// Deliveries before a message is dead-lettered (3, docs/architecture.md §5).
    pub max_deliver: i64,
    /// NAK delay after failed delivery n is `retry_delays[n-1]` (the last one repeats).
    pub retry_delays: Vec<Duration>,
    /// Well above the slowest handler; a running handler also extends it with progress acks.
    pub ack_wait: Duration,
    /// A handler still running after this is abandoned (its future dropped) and retried.
    pub handler_timeout: Duration,
    /// Messages per pull request.
    pub batch: usize,
    /// Handlers running at once.
    pub concurrency: usize,
    /// How often the pending gauges are refreshed from the server's consumer info.
    pub stats_interval: Duration,
}

impl ConsumerSpec {
    /// Defaults of docs/architecture.md §5: 3 deliveries, retry delays 1 s then 2 s, `ack_wait` 30 s.
    pub fn new(
        durable: &'static str,
        stream: StreamDef,
        filter_subjects: Vec<&'static str>,
    ) -> Self {
        Self {
            durable,
            stream,
            filter_subjects,
            max_deliver: 3,
            retry_delays: vec![Duration::from_secs(1), Duration::from_secs(2)],
            ack_wait: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(120),
            batch: 32,
            concurrency: 4,
            stats_interval: Duration::from_secs(5),
        }
    }

    fn invalid(&self, reason: &str) -> ConsumerError {
        ConsumerError::InvalidSpec {
            durable: self.durable.to_string(),
            reason: reason.to_string(),
        }
    }

    fn runner_config(
        &self,
        topology: &Topology,
        service: &str,
    ) -> Result<RunnerConfig, ConsumerError> {
        let valid_name = |s: &str| {
            !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || ".*>".contains(c))
        };
        if !valid_name(self.durable) {
            return Err(self.invalid("durable name must be a non-empty token without . * >"));
        }
        if self.filter_subjects.is_empty() {
            // An unfiltered durable would also receive events it has no handler for.
            return Err(self.invalid("at least one filter subject is required"));
        }
        if self.max_deliver < 1 {
            return Err(self.invalid("max_deliver must be at least 1"));
        }
        if self.ack_wait < Duration::from_secs(1) {
            return Err(self.invalid("ack_wait must be at least 1 s"));
        }
        Ok(RunnerConfig {
            service: service.to_string(),
            stream: topology.stream_name(&self.stream),
            durable: self.durable.to_string(),
            description: format!("paymsa consumer {}", self.durable),
            filters: self
                .filter_subjects
                .iter()
                .map(|s| topology.subject(s))
                .collect(),
            max_deliver: self.max_deliver,
            retry_delays: self.retry_delays.clone(),
            ack_wait: self.ack_wait,
            handler_timeout: self.handler_timeout,
            batch: self.batch.max(1),
            concurrency: self.concurrency.max(1),
        })
    }
}

/// Adapts a [`Handler`] to the runner: decodes the envelope header first, so an undecodable
/// message is terminated without bothering the handler.
struct HandlerProcess<H> {
    handler: Arc<H>,
}

impl<H: Handler> Process for HandlerProcess<H> {
    async fn process(
        &self,
        message: async_nats::Message,
        position: Position,
    ) -> Result<(), HandlerError> {
        let event = events::decode_header(&message.payload)?;
        tracing::debug!(event_id = %event.event_id, event_type = %event.event_type, "handling");
        let delivery = Delivery {
            subject: message.subject.to_string(),
            payload: message.payload,
            headers: message.headers.unwrap_or_default(),
            delivered: position.delivered,
            stream_seq: position.stream_seq,
            event,
        };
        self.handler.handle(&delivery).await
    }
}

/// Creates (or updates) the durable pull consumer and runs it as a worker of `shutdown`, and
/// registers `handler` in `replayers` so the service's dead letters of this consumer can be
/// replayed through it (`replay.rs`). Returns once the consumer exists; the runner keeps going in the background, through NATS
/// outages and bad messages, until shutdown, when it stops pulling, finishes and acks what it
/// has received, and returns.
pub async fn spawn_consumer<H: Handler>(
    js: Context,
    topology: &Topology,
    spec: ConsumerSpec,
    handler: H,
    replayers: &Replayers,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<(), ConsumerError> {
    let cfg = spec.runner_config(topology, metrics.service())?;
    let consumer = runner::ensure_consumer(&js, &cfg).await?;
    let consumer_metrics = ConsumerMetrics::new(metrics, &cfg.durable);
    let handler = Arc::new(handler);
    replayers.register(
        &cfg.durable,
        &cfg.service,
        handler.clone(),
        consumer_metrics.clone(),
        cfg.handler_timeout,
    );
    tracing::info!(consumer = %cfg.durable, stream = %cfg.stream, filters = ?cfg.filters, "consumer started");
    shutdown.spawn(
        "messaging-consumer-stats",
        poll_consumer_info(
            consumer.clone(),
            consumer_metrics.clone(),
            spec.stats_interval,
            shutdown.token(),
        ),
    );
    shutdown.spawn(
        "messaging-consumer",
        runner::run(
            js,
            Arc::new(cfg),
            consumer,
            Arc::new(HandlerProcess { handler }),
            consumer_metrics,
            shutdown.token(),
        ),
    );
    Ok(())
}
