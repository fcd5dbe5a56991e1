//! Who may act on an order in jwt mode (docs/identity.md): its member, and for reading also an
//! admin. In open mode nothing is looked up and everyone may.

use service_kit::{
    auth::{self, AuthMode, Identity},
    ApiError,
};

use crate::{payments::Payments, store};

/// 401 without a valid token, 403 unless the order is the caller's (or, with `admin_reads`,
/// the caller is an admin). An unknown order passes here and is the operation's 404.
pub async fn require_order_member(
    identity: &Identity,
    payments: &Payments,
    order_id: &str,
    admin_reads: bool,
) -> Result<(), ApiError> {
    if identity.mode() == AuthMode::Open {
        return Ok(());
    }
    identity.claims()?;
    if admin_reads && identity.is_admin() {
        return Ok(());
    }
    let mut conn = payments.pool.acquire().await?;
    match store::find_event(&mut conn, order_id, false).await? {
        Some(event) => auth::require_member(identity, event.member_no),
        None => Ok(()),
    }
}
