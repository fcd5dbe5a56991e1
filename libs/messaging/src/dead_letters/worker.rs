//! The dead-letter worker: advisories in, `dead_letters` rows out.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{stream::RawMessageErrorKind, Context};
use events::Topology;
use prometheus::{IntCounterVec, IntGauge};
use serde::Deserialize;
use service_kit::{Metrics, Shutdown};
use snowflake::Snowflake;
use sqlx::PgPool;

use super::store::{self, NewDeadLetter, Reason, StoredHeaders};
use crate::{
    error::{ConsumerError, HandlerError},
    metrics::{poll_consumer_info, ConsumerMetrics},
    runner::{self, Position, Process, RunnerConfig},
};

/// The fields we use of `io.nats.jetstream.advisory.v1.max_deliver` and
/// `io.nats.jetstream.advisory.v1.terminated`.
#[derive(Debug, Deserialize)]
struct Advisory {
    #[serde(rename = "type", default)]
    kind: String,
    stream: String,
    consumer: String,
    stream_seq: u64,
    #[serde(default)]
    deliveries: u64,
}

fn reason_of(advisory: &Advisory, subject: &str) -> Option<Reason> {
    match advisory.kind.as_str() {
        "io.nats.jetstream.advisory.v1.max_deliver" => Some(Reason::MaxDeliveries),
        "io.nats.jetstream.advisory.v1.terminated" => Some(Reason::Terminated),
        _ if subject.contains(".CONSUMER.MAX_DELIVERIES.") => Some(Reason::MaxDeliveries),
        _ if subject.contains(".CONSUMER.MSG_TERMINATED.") => Some(Reason::Terminated),
        _ => None,
    }
}

/// The original message, or what is left to say about it when it is gone.
struct Original {
    subject: String,
    headers: StoredHeaders,
    payload: Vec<u8>,
}

struct DeadLetterProcess {
    js: Context,
    pool: PgPool,
    ids: Arc<Snowflake>,
    stored_total: IntCounterVec,
    stored_now: IntGauge,
}

impl DeadLetterProcess {
    async fn fetch_original(&self, advisory: &Advisory) -> Result<Original, HandlerError> {
        let stream = self
            .js
            .get_stream_no_info(&advisory.stream)
            .await
            .map_err(|e| HandlerError::retry_because("reading the stream", e))?;
        match stream.get_raw_message(advisory.stream_seq).await {
            Ok(message) => {
                let mut headers = StoredHeaders::new();
                for (name, values) in message.headers.iter() {
                    headers.insert(
                        name.to_string(),
                        values.iter().map(|v| v.as_str().to_string()).collect(),
                    );
                }
                Ok(Original {
                    subject: message.subject.to_string(),
                    headers,
                    payload: message.payload.to_vec(),
                })
            }
            // Aged out or purged before we got here: still recorded (reason, consumer,
            // sequence), just not replayable.
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {
                tracing::error!(
                    stream = %advisory.stream,
                    stream_seq = advisory.stream_seq,
                    "dead-lettered message is no longer in its stream"
                );
                Ok(Original {
                    subject: String::new(),
                    headers: StoredHeaders::new(),
                    payload: Vec::new(),
                })
            }
            Err(e) => Err(HandlerError::retry(format!(
                "fetching original message: {e}"
            ))),
        }
    }

    async fn refresh_gauge(&self) {
        refresh_gauge(&self.pool, &self.stored_now).await;
    }
}

/// How often `dead_letters_stored` is recounted besides on every new letter: a replay (on any
/// instance, through the admin API) resolves a letter without passing here, and the alert
/// `PaymsaDeadLetters` (deploy/prometheus/rules.yml) must clear once the operator has.
const GAUGE_REFRESH: Duration = Duration::from_secs(15);

async fn refresh_gauge(pool: &PgPool, gauge: &IntGauge) {
    match store::count_unresolved(pool).await {
        Ok(n) => gauge.set(n),
        Err(e) => tracing::warn!(error = %e, "counting dead letters failed"),
    }
}

impl Process for DeadLetterProcess {
    async fn process(
        &self,
        message: async_nats::Message,
        _position: Position,
    ) -> Result<(), HandlerError> {
        let advisory: Advisory = serde_json::from_slice(&message.payload)
            .map_err(|e| HandlerError::reject(format!("malformed advisory: {e}")))?;
        let reason = reason_of(&advisory, &message.subject).ok_or_else(|| {
            HandlerError::reject(format!("unexpected advisory {:?}", advisory.kind))
        })?;
        let original = self.fetch_original(&advisory).await?;
        let letter = NewDeadLetter {
            id: self
                .ids
                .next_id()
                .map_err(|e| HandlerError::retry_because("dead letter id", e))?,
            stream: advisory.stream.clone(),
            stream_seq: i64::try_from(advisory.stream_seq).map_err(HandlerError::reject)?,
            consumer: advisory.consumer.clone(),
            subject: original.subject,
            reason,
            deliveries: i32::try_from(advisory.deliveries).unwrap_or(i32::MAX),
            event_id: events::decode_header(&original.payload)
                .ok()
                .map(|h| h.event_id),
            msg_id: original
                .headers
                .get("Nats-Msg-Id")
                .and_then(|v| v.first().cloned()),
            headers: original.headers,
            payload: original.payload,
        };
        match store::insert(&self.pool, &letter).await? {
            Some(id) => {
                self.stored_total
                    .with_label_values(&[letter.consumer.as_str(), reason.as_str()])
                    .inc();
                self.refresh_gauge().await;
                tracing::warn!(
                    id,
                    consumer = %letter.consumer,
                    stream = %letter.stream,
                    stream_seq = letter.stream_seq,
                    reason = reason.as_str(),
                    deliveries = letter.deliveries,
                    "dead letter stored"
                );
            }
            None => tracing::debug!(
                stream = %letter.stream,
                stream_seq = letter.stream_seq,
                "dead letter already stored"
            ),
        }
        Ok(())
    }
}

/// Starts this service's dead-letter worker: a durable `{service}-dead-letters` on the DLQ
/// stream, filtered to the advisories of `consumers` (this service's durables), storing each
/// dead letter once in `dead_letters`. Returns once the durable exists; runs until shutdown.
#[allow(clippy::too_many_arguments)] // the contract services are written against
pub async fn spawn_dead_letter_worker(
    js: Context,
    topology: &Topology,
    service: &'static str,
    consumers: impl IntoIterator<Item = impl AsRef<str>>,
    pool: PgPool,
    ids: Arc<Snowflake>,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<(), ConsumerError> {
    let durable = format!("{service}-dead-letters");
    let filters: Vec<String> = consumers
        .into_iter()
        .flat_map(|c| {
            let c = c.as_ref();
            [
                format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.*.{c}"),
                format!("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.*.{c}"),
            ]
        })
        .collect();
    if filters.is_empty() {
        // Unfiltered, it would take (and store) other services' dead letters.
        return Err(ConsumerError::InvalidSpec {
            durable,
            reason: "no consumers to watch".into(),
        });
    }
    let cfg = RunnerConfig {
        service: service.to_string(),
        stream: topology.dlq_stream(),
        durable: durable.clone(),
        description: format!("paymsa dead letters of {service}"),
        filters,
        // Storing fails only while NATS or Postgres is down: keep trying, never give up.
        max_deliver: -1,
        retry_delays: [1, 2, 5, 10, 30].map(Duration::from_secs).to_vec(),
        ack_wait: Duration::from_secs(30),
        handler_timeout: Duration::from_secs(60),
        batch: 16,
        concurrency: 2,
    };
    let consumer = runner::ensure_consumer(&js, &cfg).await?;
    let process = DeadLetterProcess {
        js: js.clone(),
        pool,
        ids,
        stored_total: metrics.counter_vec(
            "dead_letters_total",
            "Dead letters stored, by consumer and reason",
            &["consumer", "reason"],
        ),
        stored_now: metrics.gauge(
            "dead_letters_stored",
            "Dead letters stored and not yet resolved by a replay",
        ),
    };
    process.refresh_gauge().await;
    let (pool, gauge, stop) = (
        process.pool.clone(),
        process.stored_now.clone(),
        shutdown.token(),
    );
    shutdown.spawn("messaging-dead-letter-gauge", async move {
        let mut every = tokio::time::interval(GAUGE_REFRESH);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => refresh_gauge(&pool, &gauge).await,
            }
        }
    });
    let consumer_metrics = ConsumerMetrics::new(metrics, &durable);
    shutdown.spawn(
        "messaging-dead-letter-stats",
        poll_consumer_info(
            consumer.clone(),
            consumer_metrics.clone(),
            Duration::from_secs(5),
            shutdown.token(),
        ),
    );
    shutdown.spawn(
        "messaging-dead-letters",
        runner::run(
            js,
            Arc::new(cfg),
            consumer,
            Arc::new(process),
            consumer_metrics,
            shutdown.token(),
        ),
    );
    Ok(())
}
