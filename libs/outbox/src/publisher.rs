//! Publishing one claimed batch to JetStream through a publish window: send every message of
//! the batch first, then await all the acks together, so a batch costs about one round trip
//! instead of one per event.
//!
//! Each event is published in a `publish` span of its own, a child of the trace the event
//! carries (its stored `traceparent`: the request or consumed message that wrote it), open
//! until its ack; with span export on (service_kit::otel) it is the producer span of the
//! payment's trace. The message keeps the stored `traceparent`, so its consumers are children
//! of the writing unit of work, siblings of this span.

use std::{future::IntoFuture, sync::Arc, time::Duration};

use async_nats::{
    header::{ParseHeaderValueError, NATS_MESSAGE_ID},
    jetstream::{context::PublishError, message::PublishMessage, Context},
    HeaderMap, HeaderName, HeaderValue,
};
use serde_json::{Map, Value};
use service_kit::trace::{self, TRACEPARENT};
use tracing::Instrument;

use crate::store::ClaimedRow;

/// What JetStream said about one row.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Stored; `duplicate` when the stream already had this `Nats-Msg-Id` (a re-publish).
    Acked {
        duplicate: bool,
        /// The stream sequence the message has (for a duplicate: the earlier copy's).
        seq: u64,
    },
    Failed(PublishFailure),
}

/// Why a row was not published. Its text is what the row's `last_error` says; the client's
/// error stays the `source` for the log ([`service_kit::error_chain`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishFailure {
    #[error("invalid idempotency key {key:?}")]
    IdempotencyKey {
        key: String,
        #[source]
        source: ParseHeaderValueError,
    },
    #[error("publish failed: {0}")]
    Send(#[source] Arc<PublishError>),
    /// A row after a failed send, not tried: the batch is retried later.
    #[error("not sent: publish failed: {0}")]
    NotSent(#[source] Arc<PublishError>),
    #[error("publish not acknowledged: {0}")]
    NotAcknowledged(#[source] PublishError),
    #[error("no publish ack within {0:?}")]
    NoAck(Duration),
}

/// Publishes `rows` in order and returns each row id with its outcome, in the same order.
/// Only an ack counts as published: a send error, an error reply (e.g. no stream for the
/// subject) or no ack within `ack_timeout` is a failure.
pub(crate) async fn publish_window(
    js: &Context,
    service: &str,
    rows: Vec<ClaimedRow>,
    ack_timeout: Duration,
) -> Vec<(i64, Outcome)> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut sent = Vec::with_capacity(rows.len());
    let mut send_failed = None;
    for row in rows {
        ids.push(row.id);
        let span = publish_span(service, &row);
        if let Some(error) = &send_failed {
            // After a failed send (connection gone, client buffer full) the rest would each
            // wait out the same timeout; fail them at once and retry the batch later.
            sent.push((span, Err(PublishFailure::NotSent(Arc::clone(error)))));
            continue;
        }
        let ClaimedRow {
            id,
            idempotency_key,
            subject,
            payload,
            headers,
        } = row;
        let message = match message_of(id, &idempotency_key, &headers.0, payload) {
            Ok(message) => message,
            Err(reason) => {
                sent.push((span, Err(reason)));
                continue;
            }
        };
        match js
            .send_publish(subject, message)
            .instrument(span.clone())
            .await
        {
            Ok(ack) => sent.push((span, Ok(ack))),
            Err(e) => {
                let error = Arc::new(e);
                send_failed = Some(Arc::clone(&error));
                sent.push((span, Err(PublishFailure::Send(error))));
            }
        }
    }
    let outcomes = futures::future::join_all(sent.into_iter().map(|(span, sent)| {
        let acked = async move {
            let ack = match sent {
                Ok(ack) => ack,
                Err(reason) => return Outcome::Failed(reason),
            };
            match tokio::time::timeout(ack_timeout, ack.into_future()).await {
                Ok(Ok(ack)) => Outcome::Acked {
                    duplicate: ack.duplicate,
                    seq: ack.sequence,
                },
                Ok(Err(e)) => Outcome::Failed(PublishFailure::NotAcknowledged(e)),
                Err(_) => Outcome::Failed(PublishFailure::NoAck(ack_timeout)),
            }
        };
        let recorded = span.clone();
        async move {
            let outcome = acked.await;
            match &outcome {
                Outcome::Acked { duplicate, seq } => {
                    recorded.record("stream_seq", seq);
                    recorded.record("duplicate", duplicate);
                }
                Outcome::Failed(reason) => {
                    let reason = reason.to_string();
                    recorded.record("error", reason.as_str());
                    trace::fail(&recorded, reason);
                }
            }
            outcome
        }
        .instrument(span)
    }))
    .await;
    ids.into_iter().zip(outcomes).collect()
}

/// The span of publishing `row`, in the trace its stored `traceparent` names.
fn publish_span(service: &str, row: &ClaimedRow) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.kind = "producer",
        otel.name = %format!("publish {}", row.subject),
        service,
        subject = %row.subject,
        outbox_id = row.id,
        stream_seq = tracing::field::Empty,
        duplicate = tracing::field::Empty,
        error = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
    );
    let traceparent = row
        .headers
        .0
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(TRACEPARENT))
        .and_then(|(_, value)| value.as_str());
    trace::begin(&span, traceparent);
    span
}

/// The stored headers plus `Nats-Msg-Id` = idempotency key, which makes JetStream drop
/// re-publishes of the same row within the stream's duplicate window.
fn message_of(
    id: i64,
    idempotency_key: &str,
    stored_headers: &Map<String, Value>,
    payload: String,
) -> Result<PublishMessage, PublishFailure> {
    let mut headers = HeaderMap::new();
    for (name, value) in stored_headers {
        // The writer validated these; rows edited by hand are checked again, never panicking.
        let (Ok(name), Some(Ok(value))) = (
            name.parse::<HeaderName>(),
            value.as_str().map(str::parse::<HeaderValue>),
        ) else {
            tracing::warn!(id, header = %name, "skipping an invalid stored header");
            continue;
        };
        headers.insert(name, value);
    }
    let message_id: HeaderValue =
        idempotency_key
            .parse()
            .map_err(|source| PublishFailure::IdempotencyKey {
                key: idempotency_key.to_string(),
                source,
            })?;
    headers.insert(NATS_MESSAGE_ID, message_id);
    Ok(PublishMessage::build()
        .payload(payload.into())
        .headers(headers))
}
