//! `order-wallet-completion`: `wallet.settled` → the order's `is_wallet_done`, and
//! `wallet.reversed` → the cancel's `is_wallet_done`. Both stop the re-drive of
//! [`crate::redrive`] for that order or cancel.
//!
//! The deliveries in flight are committed together ([`messaging::GroupCommit`], one lane):
//! each is one small update, so the commit is most of its cost. A group of two or more is
//! applied as one batch (`apply_batch`: a claim and at most two updates for the whole group);
//! a delivery that does not decode sends the group one delivery at a time, so it is
//! dead-lettered alone. One lane means one group at a time, so two groups never lock orders in
//! opposite orders; a confirm or a re-drive locks one order at a time.

use events::{Event, WalletReversed, WalletSettled};
use messaging::{claim_event, claim_fresh, BatchItem, Delivery, GroupHandler, HandlerError};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::store;

pub const CONSUMER: &str = "order-wallet-completion";

/// Groups committed at once (lib.rs); more would only split the deliveries in flight.
pub const LANES: usize = 1;

pub struct MarkWalletDone;

/// What one delivery marks done.
enum Completion {
    /// `wallet.settled`: the order's (payment event's) settlement.
    Order(i64),
    /// `wallet.reversed`: the cancel's reversal.
    Cancel(i64),
}

/// The event's id and what it completes.
fn decode(delivery: &Delivery) -> Result<(Uuid, Completion), HandlerError> {
    if delivery.event.event_type == WalletReversed::TYPE {
        let event = delivery.decode::<WalletReversed>()?;
        return Ok((event.event_id, Completion::Cancel(event.payload.cancel_no)));
    }
    let event = delivery.decode::<WalletSettled>()?;
    Ok((
        event.event_id,
        Completion::Order(event.payload.payment_event_no),
    ))
}

impl GroupHandler for MarkWalletDone {
    type Tx = Transaction<'static, Postgres>;
    const BATCHES: bool = true;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let (event_id, completion) = decode(delivery)?;
        if claim_event(conn, CONSUMER, event_id).await? {
            match completion {
                Completion::Order(no) => store::mark_wallet_done(conn, no).await?,
                Completion::Cancel(no) => store::cancels::mark_wallet_done(conn, no).await?,
            };
        }
        Ok(())
    }

    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        let mut completions = Vec::with_capacity(group.len());
        for item in group {
            match decode(&item.delivery) {
                Ok(c) => completions.push(c),
                // The careful path dead-letters it alone.
                Err(_) => return Ok(false),
            }
        }
        let fresh = claim_fresh(conn, CONSUMER, completions, |(id, _)| *id).await?;
        let (mut orders, mut cancels) = (Vec::new(), Vec::new());
        for (_, completion) in fresh {
            match completion {
                Completion::Order(no) => orders.push(no),
                Completion::Cancel(no) => cancels.push(no),
            }
        }
        if !orders.is_empty() {
            store::mark_wallets_done(conn, &orders).await?;
        }
        if !cancels.is_empty() {
            store::cancels::mark_wallets_done(conn, &cancels).await?;
        }
        Ok(true)
    }
}
