//! `order-wallet-completion`: `wallet.settled` → the order's `is_wallet_done`.

use events::WalletSettled;
use messaging::{apply_once, Delivery, Handler, HandlerError};
use sqlx::PgPool;

use crate::store;

pub const CONSUMER: &str = "order-wallet-completion";

pub struct MarkWalletDone {
    pub pool: PgPool,
}

impl Handler for MarkWalletDone {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
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
