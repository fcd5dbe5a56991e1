//! Who may change a product in jwt mode (docs/identity.md): only its seller.

use service_kit::{
    auth::{self, AuthMode, Identity},
    ApiError,
};
use sqlx::PgPool;

use crate::store;

/// 401 without a valid token, 403 unless the stored product is the caller's; an unknown
/// product passes here and is the operation's 404. Nothing is looked up in open mode.
pub async fn require_owner(
    pool: &PgPool,
    identity: &Identity,
    product_no: i64,
) -> Result<(), ApiError> {
    if identity.mode() == AuthMode::Open {
        return Ok(());
    }
    identity.claims()?;
    let mut conn = pool.acquire().await?;
    match store::find_products(&mut conn, &[product_no])
        .await?
        .first()
    {
        Some(row) => auth::require_seller(identity, row.seller_no),
        None => Ok(()),
    }
}
