//! The test namespace's JetStream streams: publishing typed envelopes as an outbox relay does,
//! reading back what a stream holds, and waiting for durable consumers to drain.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, context::PublishAckFuture};
use events::{Envelope, Event, StreamDef, Topology};
use serde_json::Value;

use crate::{eventually, TestSystem};

/// The shared NATS server the tests run against (`TEST_NATS_URL`).
pub fn shared_nats_url() -> String {
    std::env::var("TEST_NATS_URL").expect("TEST_NATS_URL is set")
}

/// A message as a stream stores it.
#[derive(Debug, Clone)]
pub struct StreamMessage {
    /// The full (namespaced) subject.
    pub subject: String,
    /// The `Nats-Msg-Id` header.
    pub msg_id: Option<String>,
    /// The payload, an event envelope.
    pub envelope: Value,
}

/// One namespace's streams on one NATS server.
pub struct Bus {
    pub js: jetstream::Context,
    pub topology: Topology,
}

impl Bus {
    /// The system's namespace on the shared server.
    pub async fn connect(system: &TestSystem) -> Self {
        Self::connect_to(&shared_nats_url(), &system.namespace).await
    }

    /// `namespace` on the server at `url` (e.g. a private one a test stops and starts).
    pub async fn connect_to(url: &str, namespace: &str) -> Self {
        let client = async_nats::connect(url).await.expect("NATS reachable");
        Self {
            js: jetstream::new(client),
            topology: Topology::new(namespace),
        }
    }

    /// Publishes `event` on its type's subject with `Nats-Msg-Id` = `msg_id` and returns the
    /// ack future, so many publishes can be in flight.
    pub async fn publish_pending<E: Event>(
        &self,
        event: &Envelope<E>,
        msg_id: &str,
    ) -> PublishAckFuture {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let body = serde_json::to_vec(event).expect("envelope serializes");
        self.js
            .publish_with_headers(self.topology.subject(E::TYPE), headers, body.into())
            .await
            .expect("published")
    }

    /// Publishes `event` with message id `msg_id` (a replay uses a new one); the server must
    /// store it, not drop it as a duplicate.
    pub async fn publish_as<E: Event>(&self, event: &Envelope<E>, msg_id: &str) {
        let ack = self
            .publish_pending(event, msg_id)
            .await
            .await
            .expect("stored");
        assert!(!ack.duplicate, "{msg_id} was dropped as a duplicate");
    }

    /// Publishes as an outbox relay does: `Nats-Msg-Id` = the event id.
    pub async fn publish<E: Event>(&self, event: &Envelope<E>) {
        self.publish_as(event, &event.event_id.to_string()).await;
    }

    /// How many messages the namespace's `stream` holds.
    pub async fn count(&self, stream: &StreamDef) -> u64 {
        let mut stream = self
            .js
            .get_stream(self.topology.stream_name(stream))
            .await
            .expect("stream exists");
        stream.info().await.expect("stream info").state.messages
    }

    /// Every message of the namespace's `stream`, oldest first.
    pub async fn messages(&self, stream: &StreamDef) -> Vec<StreamMessage> {
        let mut stream = self
            .js
            .get_stream(self.topology.stream_name(stream))
            .await
            .expect("stream exists");
        let state = stream.info().await.expect("stream info").state.clone();
        let mut messages = Vec::new();
        if state.messages == 0 {
            return messages;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let Some(message) = service_kit::testing::stream_message(&stream, seq).await else {
                continue; // deleted
            };
            let msg_id = message
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_string());
            messages.push(StreamMessage {
                subject: message.subject.to_string(),
                msg_id,
                envelope: serde_json::from_slice(&message.payload).expect("envelope is JSON"),
            });
        }
        messages
    }

    /// The envelopes of [`Bus::messages`].
    pub async fn all_envelopes(&self, stream: &StreamDef) -> Vec<Value> {
        let messages = self.messages(stream).await;
        messages.into_iter().map(|m| m.envelope).collect()
    }

    /// The messages of `event_type` (unqualified, e.g. `wallet.settled`) in `stream`.
    pub async fn messages_of(&self, stream: &StreamDef, event_type: &str) -> Vec<StreamMessage> {
        let subject = self.topology.subject(event_type);
        let mut messages = self.messages(stream).await;
        messages.retain(|m| m.subject == subject);
        messages
    }

    /// The envelopes of [`Bus::messages_of`].
    pub async fn envelopes(&self, stream: &StreamDef, event_type: &str) -> Vec<Value> {
        let messages = self.messages_of(stream, event_type).await;
        messages.into_iter().map(|m| m.envelope).collect()
    }

    /// Waits until `stream` holds `n` messages (30 s at most), then a moment more to catch any
    /// duplicate, and asserts it holds exactly `n`.
    pub async fn expect_exactly(&self, stream: &StreamDef, n: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.count(stream).await;
            if seen >= n {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {seen} of {n} {} events after 30 s",
                stream.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            self.count(stream).await,
            n,
            "duplicate or extra {} events",
            stream.name
        );
    }

    /// Waits (up to `timeout`) until durable `consumer` of `stream` has nothing pending or
    /// unacknowledged, so what it was going to handle has been handled.
    pub async fn wait_idle(&self, stream: &StreamDef, consumer: &str, timeout: Duration) {
        let stream = self.topology.stream_name(stream);
        eventually(timeout, &format!("{consumer} to drain"), || async {
            let mut durable: PullConsumer = self
                .js
                .get_consumer_from_stream(consumer, &stream)
                .await
                .ok()?;
            let info = durable.info().await.ok()?;
            (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
        })
        .await;
    }
}
