//! [`Outbox`]: the one handle a producing service's handlers hold. It begins the transactions
//! events are appended in ([`OutboxTx`], crate::tx) and only appends in those, so every
//! commit that carries an event wakes the relay right after it — events leave at once without
//! every handler remembering a nudge (a forgotten one only showed as events waiting for the
//! sweep, `RelayConfig::sweep_interval`), and a plain `pool.begin()` transaction cannot
//! carry one at all.

use events::{Envelope, Event, Topology};
use sqlx::PgPool;

use crate::{OutboxNudge, OutboxTx, OutboxWriter};

/// Begins the transactions that carry events and appends them; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    writer: OutboxWriter,
    nudge: OutboxNudge,
}

impl Outbox {
    /// `nudge` is what [`crate::OutboxRelay::spawn`] returned for the relay of `writer`'s table.
    pub fn new(writer: OutboxWriter, nudge: OutboxNudge) -> Self {
        Self { writer, nudge }
    }

    pub fn topology(&self) -> &Topology {
        self.writer.topology()
    }

    /// Begins a transaction to append in; its [`OutboxTx::commit`] wakes the relay.
    pub async fn begin(&self, pool: &PgPool) -> Result<OutboxTx, sqlx::Error> {
        Ok(OutboxTx::new(pool.begin().await?, self.nudge.clone()))
    }

    /// [`OutboxWriter::append`] in `tx`, which then wakes the relay when it commits.
    pub async fn append<E: Event>(
        &self,
        tx: &mut OutboxTx,
        shard_by: i64,
        envelope: &Envelope<E>,
        headers: &[(&str, &str)],
    ) -> Result<i64, sqlx::Error> {
        self.writer
            .append(
                tx.for_append(self.writer.shard_of(shard_by)),
                shard_by,
                envelope,
                headers,
            )
            .await
    }

    /// [`OutboxWriter::append_as`] (an explicit `Nats-Msg-Id`, for a re-drive) in `tx`.
    pub async fn append_as<E: Event>(
        &self,
        tx: &mut OutboxTx,
        shard_by: i64,
        envelope: &Envelope<E>,
        headers: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<i64, sqlx::Error> {
        self.writer
            .append_as(
                tx.for_append(self.writer.shard_of(shard_by)),
                shard_by,
                envelope,
                headers,
                idempotency_key,
            )
            .await
    }
}
