//! `order-wallet-completion`: `wallet.settled` → the order's `is_wallet_done`, and
//! `wallet.reversed` → the cancel's `is_wallet_done`. Both stop the re-drive of
//! [`crate::redrive`] for that order or cancel.
//!
//! The deliveries in flight are committed together ([`messaging::GroupCommit`], one lane):
//! each is one small update, so the commit is most of its cost. One lane means one group at a
//! time, so two groups never lock orders in opposite orders; a confirm or a re-drive locks
//! one order at a time.

use events::{Event, WalletReversed, WalletSettled};
use messaging::{claim_event, Delivery, GroupHandler, HandlerError};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::store;

pub const CONSUMER: &str = "order-wallet-completion";

/// Groups committed at once (lib.rs); more would only split the deliveries in flight.
pub const LANES: usize = 1;

pub struct MarkWalletDone;

impl GroupHandler for MarkWalletDone {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        if delivery.event.event_type == WalletReversed::TYPE {
            let event = delivery.decode::<WalletReversed>()?;
            if claim_event(conn, CONSUMER, event.event_id).await? {
                store::cancels::mark_wallet_done(conn, event.payload.cancel_no).await?;
            }
            return Ok(());
        }
        let event = delivery.decode::<WalletSettled>()?;
        if claim_event(conn, CONSUMER, event.event_id).await? {
            store::mark_wallet_done(conn, event.payload.payment_event_no).await?;
        }
        Ok(())
    }
}
