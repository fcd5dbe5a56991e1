//! One delivery: run the handler (kept alive with progress acks, panics caught), then ack,
//! NAK with the retry delay, or terminate.

use std::{future::Future, panic::AssertUnwindSafe, pin::pin, time::Duration};

use async_nats::jetstream::{message::Acker, AckKind};
use futures::FutureExt;
use service_kit::trace::{self, TRACEPARENT};
use tokio::{sync::OwnedSemaphorePermit, time::Instant};
use tracing::Instrument;

use super::{Position, Process, Worker};
use crate::HandlerError;

impl<P: Process> Worker<P> {
    pub(super) fn handle(
        &self,
        message: async_nats::jetstream::Message,
        permit: OwnedSemaphorePermit,
    ) -> impl Future<Output = ()> + Send + 'static {
        let cfg = self.cfg.clone();
        let process = self.process.clone();
        let metrics = self.metrics.clone();
        async move {
            let _permit = permit;
            let position = match message.info() {
                Ok(info) => Position {
                    stream_seq: info.stream_sequence,
                    delivered: u64::try_from(info.delivered).unwrap_or(1),
                },
                Err(e) => {
                    tracing::warn!(consumer = %cfg.durable, error = %e, "message without JetStream metadata ignored");
                    return;
                }
            };
            let (message, acker) = message.split();
            // The producer's trace continues here: the handler's logs carry its `trace_id`
            // and the events it writes (through the outbox) carry this delivery's context;
            // with span export on, this span is the handling's consumer span in the trace.
            let span = tracing::info_span!(
                "consume",
                otel.kind = "consumer",
                otel.name = %format!("consume {}", cfg.durable),
                service = %cfg.service,
                consumer = %cfg.durable,
                subject = %message.subject,
                stream_seq = position.stream_seq,
                delivered = position.delivered,
                trace_id = tracing::field::Empty,
                span_id = tracing::field::Empty,
            );
            let ctx = trace::begin(
                &span,
                message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(TRACEPARENT))
                    .map(|v| v.as_str()),
            );
            if position.delivered > 1 {
                metrics.redeliveries.inc();
            }
            let started = Instant::now();
            // A panicking handler is a failed delivery, not a dead consumer.
            let work = AssertUnwindSafe(trace::scope(ctx, process.process(message, position)))
                .catch_unwind()
                .instrument(span.clone());
            let result = match keep_alive(work, &acker, cfg.ack_wait, cfg.handler_timeout).await {
                Some(Ok(result)) => result,
                Some(Err(_)) => Err(HandlerError::retry("handler panicked")),
                None => Err(HandlerError::retry(format!(
                    "handler timed out after {:?}",
                    cfg.handler_timeout
                ))),
            };
            let elapsed = started.elapsed();
            metrics.handle_seconds.observe(elapsed.as_secs_f64());
            let (kind, outcome) = match result {
                Ok(()) => {
                    tracing::debug!(parent: &span, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "handled");
                    (AckKind::Ack, "ack")
                }
                Err(ref err @ HandlerError::Retry { .. }) => {
                    // The reason with every cause under it, logged once here.
                    let reason = service_kit::error_chain(err);
                    let delay = cfg.retry_delay(position.delivered);
                    if cfg.is_last_delivery(position.delivered) {
                        tracing::error!(parent: &span, %reason, "delivery failed for the last time; dead-lettered");
                    } else {
                        tracing::warn!(parent: &span, %reason, ?delay, "delivery failed; retrying");
                    }
                    (AckKind::Nak(delay), "retry")
                }
                Err(HandlerError::Reject(reason)) => {
                    tracing::error!(parent: &span, %reason, "message rejected; terminated and dead-lettered");
                    (AckKind::Term, "term")
                }
            };
            if let Err(e) = acker.ack_with(kind).await {
                tracing::warn!(parent: &span, error = %e, "acknowledgement not sent; the server redelivers after ack_wait");
            }
            metrics.outcome(outcome);
        }
    }
}

/// Runs `work`, telling the server every half `ack_wait` that it is still in progress, so a
/// slow handler never gets a concurrent second copy; gives up (`None`) after `limit`, dropping
/// the work (a dropped sqlx transaction rolls back).
async fn keep_alive<F: Future>(
    work: F,
    acker: &Acker,
    ack_wait: Duration,
    limit: Duration,
) -> Option<F::Output> {
    let mut work = pin!(work);
    let period = (ack_wait / 2).max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    let deadline = tokio::time::sleep(limit);
    let mut deadline = pin!(deadline);
    loop {
        tokio::select! {
            out = &mut work => return Some(out),
            _ = &mut deadline => return None,
            _ = ticks.tick() => {
                if let Err(e) = acker.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %e, "progress ack not sent");
                }
            }
        }
    }
}
