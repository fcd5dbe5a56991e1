//! Writing events into the outbox inside the caller's transaction.

use std::sync::Arc;

use async_nats::header::{HeaderName, HeaderValue};
use events::{Envelope, Event, Topology};
use serde_json::{Map, Value};
use service_kit::trace::{TraceContext, TRACEPARENT};
use snowflake::Snowflake;
use sqlx::PgConnection;

use crate::store;

/// Appends events to the `outbox` table; cheap to clone (an `Arc` and a short namespace).
#[derive(Clone)]
pub struct OutboxWriter {
    ids: Arc<Snowflake>,
    shards: u16,
    topology: Topology,
}

impl OutboxWriter {
    /// `shards` must match the relay's [`crate::RelayConfig::shards`]; it is clamped to
    /// `1..=i16::MAX` because `shard_key` is a smallint.
    pub fn new(ids: Arc<Snowflake>, topology: Topology, shards: u16) -> Self {
        Self {
            ids,
            shards: shards.clamp(1, i16::MAX as u16),
            topology,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The shard an event of `shard_by` lands in.
    pub(crate) fn shard_of(&self, shard_by: i64) -> i16 {
        shard_key(shard_by, self.shards)
    }

    /// Inserts the event in the caller's transaction, so it exists if and only if the state
    /// change commits; call [`crate::OutboxNudge::nudge`] after the commit. Services never
    /// call this: they append through [`crate::Outbox`], into an [`crate::OutboxTx`] whose
    /// commit nudges; the relay's own tests and benches do, to write rows no nudge announces.
    ///
    /// The idempotency key (sent as `Nats-Msg-Id`) is the envelope's `eventId`, so appending
    /// the same envelope twice fails on `outbox_idempotency_key_key`. Rows with the same
    /// `shard_by` (e.g. the aggregate id) land in the same shard and are published in order.
    /// `headers` travel with the message; a pair that is not a valid NATS header is dropped
    /// with a warning rather than failing the business transaction. Unless `headers` carries
    /// one, the event gets the `traceparent` of the work that writes it
    /// ([`service_kit::trace::current`]: the HTTP request or consumed message), so the trace
    /// continues through NATS into every consumer; outside of one (a background job) it
    /// starts a trace of its own.
    /// Returns the outbox row id. A clock error of the id generator is reported as
    /// [`sqlx::Error::Encode`].
    pub async fn append<E: Event>(
        &self,
        conn: &mut PgConnection,
        shard_by: i64,
        envelope: &Envelope<E>,
        headers: &[(&str, &str)],
    ) -> Result<i64, sqlx::Error> {
        let idempotency_key = envelope.event_id.to_string();
        self.append_as(conn, shard_by, envelope, headers, &idempotency_key)
            .await
    }

    /// [`Self::append`] with an explicit `Nats-Msg-Id`: a re-drive re-publishes an event
    /// (same `eventId`, so consumers stay idempotent) that the broker may have lost, and a new
    /// message id is what gets it past JetStream's duplicate window.
    pub async fn append_as<E: Event>(
        &self,
        conn: &mut PgConnection,
        shard_by: i64,
        envelope: &Envelope<E>,
        headers: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<i64, sqlx::Error> {
        let id = self
            .ids
            .next_id()
            .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let subject = self.topology.subject(E::TYPE);
        let row = store::NewRow {
            id,
            idempotency_key,
            subject: &subject,
            event_type: E::TYPE,
            shard_key: self.shard_of(shard_by),
        };
        store::insert(conn, row, envelope, &with_trace_context(headers)).await?;
        Ok(id)
    }
}

/// `shard_by` mixed (SplitMix64 finalizer) and reduced modulo `shards`. A fixed function
/// rather than `std`'s hasher, whose output may change between Rust releases: the shard of
/// an aggregate must be the same in every process and every build. Mixing first matters
/// because snowflake ids carry a sequence in their low bits.
pub fn shard_key(shard_by: i64, shards: u16) -> i16 {
    let mut x = shard_by as u64;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let shards = u64::from(shards.clamp(1, i16::MAX as u16));
    (x % shards) as i16
}

fn valid_headers(headers: &[(&str, &str)]) -> Map<String, Value> {
    let mut map = Map::new();
    for &(name, value) in headers {
        let valid = name.parse::<HeaderName>().is_ok() && value.parse::<HeaderValue>().is_ok();
        if valid && !name.is_empty() {
            map.insert(name.to_string(), Value::String(value.to_string()));
        } else {
            tracing::warn!(header = name, "dropping an invalid outbox header");
        }
    }
    map
}

/// `headers`, plus the current `traceparent` unless the caller set one.
fn with_trace_context(headers: &[(&str, &str)]) -> Map<String, Value> {
    let mut map = valid_headers(headers);
    if !map.keys().any(|k| k.eq_ignore_ascii_case(TRACEPARENT)) {
        let ctx = TraceContext::current_or_new();
        map.insert(TRACEPARENT.to_string(), Value::String(ctx.traceparent()));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_keys_are_stable_and_spread() {
        // Pinned values: changing the function would move aggregates between shards.
        let pinned: Vec<i16> = [0, 1, 2, 3, 42, -1, 9_007_199_254_740_993]
            .iter()
            .map(|&v| shard_key(v, 4))
            .collect();
        assert_eq!(pinned, [0, 1, 2, 0, 2, 3, 2]);
        assert_eq!((shard_key(1, 8), shard_key(42, 8)), (5, 2));
        let mut counts = [0u32; 4];
        // Consecutive snowflake-like ids (same ms, rising sequence) must not pile up.
        for seq in 0..4_000i64 {
            counts[shard_key((1 << 22) | seq, 4) as usize] += 1;
        }
        assert!(counts.iter().all(|&n| n > 850), "{counts:?}");
        assert!((0..1000).all(|i| (0..4).contains(&shard_key(i * 7919, 4))));
        assert_eq!(shard_key(123, 0), 0);
    }

    #[test]
    fn invalid_headers_are_dropped() {
        let map = valid_headers(&[
            ("traceparent", "00-abc-def-01"),
            ("bad:name", "x"),
            ("x-bad-value", "a\r\nb"),
        ]);
        assert_eq!(map.len(), 1);
        assert_eq!(map["traceparent"], "00-abc-def-01");
    }

    #[tokio::test]
    async fn events_carry_the_trace_context_they_were_written_in() {
        const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ctx = TraceContext::parse(PARENT).expect("valid").child();
        let inside = service_kit::trace::scope(ctx, async { with_trace_context(&[]) }).await;
        assert_eq!(inside[TRACEPARENT], ctx.traceparent().as_str());
        // An explicit header wins.
        let explicit = service_kit::trace::scope(ctx, async {
            with_trace_context(&[("traceparent", PARENT), ("x-other", "1")])
        })
        .await;
        assert_eq!(explicit[TRACEPARENT], PARENT);
        assert_eq!(explicit["x-other"], "1");
        // Outside any unit of work: a trace of its own, still a valid traceparent.
        let outside = with_trace_context(&[]);
        let started = outside[TRACEPARENT].as_str().expect("string");
        let started = TraceContext::parse(started).expect("valid");
        assert_ne!(started.trace_id(), ctx.trace_id());
    }
}
