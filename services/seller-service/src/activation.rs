//! `seller-activation`: the last step of the onboarding saga. wallet-service announces the
//! seller's wallet; the seller becomes ACTIVE and `seller.activated` tells the catalog.

use events::{Envelope, SellerActivated, WalletCreated};
use messaging::{apply_once_with_outbox, Delivery, Handler, HandlerError};
use outbox::Outbox;
use sqlx::PgPool;

use crate::store;

pub const CONSUMER: &str = "seller-activation";

pub struct ActivateSeller {
    pub pool: PgPool,
    pub outbox: Outbox,
}

impl Handler for ActivateSeller {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<WalletCreated>()?;
        let WalletCreated {
            seller_no,
            wallet_no,
        } = event.payload;
        let outbox = &self.outbox;
        apply_once_with_outbox(&self.pool, outbox, CONSUMER, event.event_id, |conn| {
            Box::pin(async move {
                let Some(row) = store::activate_seller(conn, seller_no, wallet_no).await? else {
                    // Already active (or unknown): only an unknown seller is an error.
                    return match store::find_seller(conn, seller_no).await? {
                        Some(_) => Ok(()),
                        None => Err(HandlerError::Reject(format!(
                            "wallet created for unknown seller {seller_no}"
                        ))),
                    };
                };
                let activated = Envelope::new(SellerActivated {
                    seller_no,
                    seller_id: row.seller_id,
                    wallet_no,
                });
                outbox.append(conn, seller_no, &activated, &[]).await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }
}
