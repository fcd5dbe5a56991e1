//! [`Outbox`]: the one handle a producing service's handlers hold. It appends in the state
//! change's transaction and commits that transaction itself, waking the relay right after
//! the commit — so events leave at once without every handler remembering a nudge (a
//! forgotten one only showed as events waiting for the sweep, `RelayConfig::sweep_interval`).

use std::ops::{Deref, DerefMut};

use events::{Envelope, Event, Topology};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::{OutboxNudge, OutboxWriter};

/// Appends events and commits the transactions that carry them; cheap to clone.
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

    /// [`OutboxWriter::append`]: in the caller's transaction, which must then be committed
    /// through this handle ([`Self::begin`] or [`Self::commit`]).
    pub async fn append<E: Event>(
        &self,
        conn: &mut PgConnection,
        shard_by: i64,
        envelope: &Envelope<E>,
        headers: &[(&str, &str)],
    ) -> Result<i64, sqlx::Error> {
        self.writer.append(conn, shard_by, envelope, headers).await
    }

    /// [`OutboxWriter::append_as`] (an explicit `Nats-Msg-Id`, for a re-drive).
    pub async fn append_as<E: Event>(
        &self,
        conn: &mut PgConnection,
        shard_by: i64,
        envelope: &Envelope<E>,
        headers: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<i64, sqlx::Error> {
        self.writer
            .append_as(conn, shard_by, envelope, headers, idempotency_key)
            .await
    }

    /// Begins a transaction whose [`OutboxTx::commit`] wakes the relay.
    pub async fn begin(&self, pool: &PgPool) -> Result<OutboxTx, sqlx::Error> {
        Ok(OutboxTx {
            tx: pool.begin().await?,
            nudge: self.nudge.clone(),
        })
    }

    /// Commits a transaction begun elsewhere (a consumer's group or idempotent transaction,
    /// libs/messaging) and then wakes the relay. Not before the commit: the relay would not
    /// see the rows yet, and they would wait for the sweep.
    pub async fn commit(&self, tx: Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.nudge.nudge();
        Ok(())
    }
}

/// A transaction of [`Outbox::begin`]: a `PgConnection` by deref (pass `&mut tx` where
/// `&mut PgConnection` is taken, `&mut *tx` as an executor); committing wakes the relay,
/// dropping it rolls back.
pub struct OutboxTx {
    tx: Transaction<'static, Postgres>,
    nudge: OutboxNudge,
}

impl OutboxTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.nudge.nudge();
        Ok(())
    }
}

impl Deref for OutboxTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for OutboxTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
