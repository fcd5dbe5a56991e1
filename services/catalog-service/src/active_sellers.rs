//! `catalog-active-sellers`: learns which sellers may list products from `seller.activated`,
//! so product creation never reads the seller database or calls seller-service.

use events::SellerActivated;
use messaging::{apply_once, Delivery, Handler, HandlerError};
use sqlx::PgPool;

use crate::store;

pub const CONSUMER: &str = "catalog-active-sellers";

pub struct RecordActiveSeller {
    pub pool: PgPool,
}

impl Handler for RecordActiveSeller {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<SellerActivated>()?;
        let seller_no = event.payload.seller_no;
        apply_once(&self.pool, CONSUMER, event.event_id, |conn| {
            Box::pin(async move {
                store::mark_seller_active(conn, seller_no).await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }
}
