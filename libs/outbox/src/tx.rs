//! [`OutboxTx`]: the only transaction events can be appended in ([`crate::Outbox::append`]
//! takes `&mut OutboxTx`). It comes only from [`crate::Outbox::begin`], and its
//! [`OutboxTx::commit`] wakes the relay, so an event can no longer be committed by a plain
//! `pool.begin()` transaction and wait for the relay's sweep (`RelayConfig::sweep_interval`).
//! A function that takes `&mut OutboxTx` rather than `&mut PgConnection` says by its signature
//! that it may write an event.

use std::{
    fmt,
    ops::{Deref, DerefMut},
};

use futures::{future::BoxFuture, stream::BoxStream};
use sqlx::{
    postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo},
    Describe, Either, Execute, Executor, PgConnection, Postgres, Transaction,
};

use crate::{nudge::ShardMask, OutboxNudge};

/// A transaction of [`crate::Outbox::begin`]. Everything else runs on it as on any
/// transaction: it is a `PgConnection` by deref (pass `tx` where `&mut PgConnection` is
/// taken) and an executor itself (`query.execute(&mut *tx)`, whether `tx` is the owned
/// transaction or a `&mut OutboxTx`).
/// [`Self::commit`] commits and then wakes the relay if anything was appended; dropping it
/// uncommitted rolls back, as sqlx does.
pub struct OutboxTx {
    tx: Transaction<'static, Postgres>,
    nudge: OutboxNudge,
    /// The shards appended in, so a commit that wrote no event (a handler that found nothing
    /// to announce) does not wake the relay for nothing, and one that did wakes it for those
    /// shards only (crate::nudge). Appends rolled back to a savepoint (libs/messaging's group
    /// commit) stay marked: one spare claim, never a missed one.
    appended: ShardMask,
}

impl OutboxTx {
    pub(crate) fn new(tx: Transaction<'static, Postgres>, nudge: OutboxNudge) -> Self {
        Self {
            tx,
            nudge,
            appended: ShardMask::default(),
        }
    }

    /// The connection to append on, marking `shard` as one to nudge for.
    pub(crate) fn for_append(&mut self, shard: i16) -> &mut PgConnection {
        self.appended = self.appended.with(shard);
        &mut self.tx
    }

    /// Commits, then wakes the relay. Not before the commit: the relay would not see the rows
    /// yet, and they would wait for the sweep. Also when the commit reports an error: its
    /// outcome may be unknown (the connection lost during COMMIT), and a spare wake-up costs a
    /// claim query that finds nothing.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let committed = self.tx.commit().await;
        if !self.appended.is_empty() {
            self.nudge.nudge_shards(self.appended);
        }
        committed
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl fmt::Debug for OutboxTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxTx")
            .field("appended", &self.appended)
            .finish_non_exhaustive()
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

/// Delegates to the transaction's `&mut PgConnection`, so queries take `&mut OutboxTx` as
/// they took `&mut PgConnection`.
impl<'c> Executor<'c> for &'c mut OutboxTx {
    type Database = Postgres;

    fn fetch_many<'e, 'q, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: Execute<'q, Postgres> + 'q,
        'q: 'e,
    {
        self.deref_mut().fetch_many(query)
    }

    fn fetch_optional<'e, 'q, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: Execute<'q, Postgres> + 'q,
        'q: 'e,
    {
        self.deref_mut().fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.deref_mut().prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.deref_mut().describe(sql)
    }
}
