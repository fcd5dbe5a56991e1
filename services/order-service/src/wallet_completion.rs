//! `order-wallet-completion`: `wallet.settled` → the order's `is_wallet_done`, and
//! `wallet.reversed` → the cancel's `is_wallet_done`. Both stop the re-drive of
//! [`crate::redrive`] for that order or cancel.

use events::{Event, WalletReversed, WalletSettled};
use messaging::{apply_once, Delivery, Handler, HandlerError};
use sqlx::PgPool;

use crate::store;

pub const CONSUMER: &str = "order-wallet-completion";

pub struct MarkWalletDone {
    pub pool: PgPool,
}

impl Handler for MarkWalletDone {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        if delivery.event.event_type == WalletReversed::TYPE {
            let event = delivery.decode::<WalletReversed>()?;
            let cancel_no = event.payload.cancel_no;
            apply_once(&self.pool, CONSUMER, event.event_id, |conn| {
                Box::pin(async move {
                    store::cancels::mark_wallet_done(conn, cancel_no).await?;
                    Ok(())
                })
            })
            .await?;
            return Ok(());
        }
        let event = delivery.decode::<WalletSettled>()?;
        let payment_event_no = event.payload.payment_event_no;
        apply_once(&self.pool, CONSUMER, event.event_id, |conn| {
            Box::pin(async move {
                store::mark_wallet_done(conn, payment_event_no).await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }
}
