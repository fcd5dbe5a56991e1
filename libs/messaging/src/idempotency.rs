//! Idempotent consumers (docs/architecture.md §5): a `(consumer, eventId)` row in `processed_events`,
//! written in the same transaction as the handler's effect. A redelivery (crash before the
//! ack, ack lost) or a replay of the same event finds the row and changes nothing.

use std::collections::HashSet;

use futures::future::BoxFuture;
use outbox::{Outbox, OutboxTx};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    tx_conn::{HandlerTx, TxConn},
    HandlerError,
};

/// What [`apply_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied<T> {
    /// The effect ran and committed together with the processed record.
    Done(T),
    /// This consumer had already applied this event; nothing was changed.
    Skipped,
}

impl<T> Applied<T> {
    pub fn is_skipped(&self) -> bool {
        matches!(self, Self::Skipped)
    }

    pub fn done(self) -> Option<T> {
        match self {
            Self::Done(value) => Some(value),
            Self::Skipped => None,
        }
    }
}

/// Records that `consumer` processes `event_id`, inside the caller's transaction. `true` if
/// this is the first time, `false` if it was processed before (the caller then changes nothing).
/// A concurrent transaction holding the same key makes this wait for its outcome, so two
/// copies of one event never both see `true`. A `false` during a dead-letter replay is what
/// the replay reports as a duplicate ([`crate::note_duplicate`]).
pub async fn claim_event(
    conn: &mut PgConnection,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into processed_events (consumer, event_id) values ($1, $2)
         on conflict on constraint processed_events_pkey do nothing",
        consumer,
        event_id,
    )
    .execute(conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        crate::replay::note_duplicate();
    }
    Ok(inserted == 1)
}

/// [`claim_event`] for many events in one statement (a batch: [`crate::GroupHandler::apply_batch`]):
/// the ids claimed now, i.e. those `consumer` had not processed, each once.
pub async fn claim_events(
    conn: &mut PgConnection,
    consumer: &str,
    event_ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    // `event_id!`: inserted from a not-null array element.
    sqlx::query_scalar!(
        r#"insert into processed_events (consumer, event_id)
           select $1, id from unnest($2::uuid[]) as e(id)
           on conflict on constraint processed_events_pkey do nothing
           returning event_id as "event_id!""#,
        consumer,
        event_ids,
    )
    .fetch_all(conn)
    .await
}

/// The items of a batch whose event this call claims for `consumer` ([`claim_events`], one
/// statement), in their order and each event once: events the consumer processed before, and a
/// second copy of one event in the same group (another message id, as after a lost ack), drop
/// out. `event_id` names an item's event.
pub async fn claim_fresh<T>(
    conn: &mut PgConnection,
    consumer: &str,
    items: Vec<T>,
    event_id: impl Fn(&T) -> Uuid,
) -> Result<Vec<T>, sqlx::Error> {
    let ids: Vec<Uuid> = items.iter().map(&event_id).collect();
    let fresh: HashSet<Uuid> = claim_events(conn, consumer, &ids)
        .await?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    Ok(items
        .into_iter()
        .filter(|item| {
            let id = event_id(item);
            fresh.contains(&id) && seen.insert(id)
        })
        .collect())
}

/// Makes a handler idempotent: begins a transaction, claims `(consumer, event_id)`; if it was
/// already claimed, commits nothing and returns [`Applied::Skipped`]; otherwise runs `apply` on
/// the same connection and commits both together. An `apply` error rolls both back, so the
/// retry starts from scratch. An effect that appends events uses [`apply_once_with_outbox`].
///
/// `apply` gets the transaction as a [`TxConn`] (a `PgConnection` by deref, and an executor)
/// and returns a boxed future; it may borrow from its surroundings (here the outbox handle):
///
/// ```ignore
/// let event = delivery.decode::<SellerRegistered>()?;
/// let outbox = &self.outbox;
/// apply_once_with_outbox(&self.pool, outbox, "wallet-onboarding", event.event_id, |conn| {
///     Box::pin(async move {
///         sqlx::query("insert into wallets (seller_no) values ($1)")
///             .bind(event.payload.seller_no)
///             .execute(&mut *conn)
///             .await?;
///         outbox.append(conn, /* … */).await?; // fn append(&self, tx: &mut OutboxTx, …)
///         Ok(())
///     })
/// })
/// .await?;
/// ```
pub async fn apply_once<'a, F, T>(
    pool: &PgPool,
    consumer: &str,
    event_id: Uuid,
    apply: F,
) -> Result<Applied<T>, HandlerError>
where
    F: for<'c> FnOnce(&'c mut TxConn<'a>) -> BoxFuture<'c, Result<T, HandlerError>>,
{
    apply_once_in(pool.begin().await?, consumer, event_id, apply).await
}

/// [`apply_once`] for an effect that appends to `outbox`: the transaction is the outbox's
/// ([`Outbox::begin`]; `apply` gets it as `TxConn<OutboxTx>`, which `outbox.append` takes),
/// so its commit wakes the relay. A skipped event commits nothing and wakes nothing.
pub async fn apply_once_with_outbox<'a, F, T>(
    pool: &PgPool,
    outbox: &Outbox,
    consumer: &str,
    event_id: Uuid,
    apply: F,
) -> Result<Applied<T>, HandlerError>
where
    F: for<'c> FnOnce(&'c mut TxConn<'a, OutboxTx>) -> BoxFuture<'c, Result<T, HandlerError>>,
{
    apply_once_in(outbox.begin(pool).await?, consumer, event_id, apply).await
}

async fn apply_once_in<'a, X, F, T>(
    mut tx: X,
    consumer: &str,
    event_id: Uuid,
    apply: F,
) -> Result<Applied<T>, HandlerError>
where
    X: HandlerTx,
    F: for<'c> FnOnce(&'c mut TxConn<'a, X>) -> BoxFuture<'c, Result<T, HandlerError>>,
{
    if !claim_event(&mut tx, consumer, event_id).await? {
        // Releases the row lock we may have waited on; nothing was written.
        tx.rollback().await?;
        return Ok(Applied::Skipped);
    }
    let mut conn = TxConn::new(tx);
    let value = apply(&mut conn).await?;
    conn.into_transaction().commit().await?;
    Ok(Applied::Done(value))
}
