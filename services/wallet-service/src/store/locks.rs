//! The advisory locks that order wallet-service's writers (docs/architecture.md §6): the
//! sellers' (shared for settlements and reversals, exclusive for onboarding), then the
//! orders', then wallet rows, each group ascending.

use sqlx::PgConnection;

use crate::ids::SellerNo;

/// The seller's advisory lock, shared: what a settlement or a reversal holds while it looks
/// for the seller's wallet. They do not wait for each other; onboarding ([`lock_seller`],
/// exclusive) waits for them and they wait for it, so a credit is never parked after
/// onboarding has looked for parked ones (a reversal of an order still parked between two of
/// onboarding's chunks is, and that order's chunk applies it). Lock order everywhere: the sellers' locks
/// (ascending), then [`lock_order`], then wallet rows (ascending).
pub async fn lock_seller_shared(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock_shared($1)", seller_no.0)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The seller's advisory lock, exclusive: onboarding's, while it creates the wallet and
/// applies what was parked for it (see [`lock_seller_shared`]).
pub async fn lock_seller(conn: &mut PgConnection, seller_no: SellerNo) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock($1)", seller_no.0)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The class of [`lock_order`]'s advisory locks: the two-key form, a key space apart from
/// the sellers' one-key locks.
const ORDER_LOCK_CLASS: i32 = 0x5e77;

/// The order's advisory lock, exclusive: serialises "are this order's lines credited yet?"
/// between its settlement and a reversal of one of its cancels, so a reversal is never parked
/// after the settlement that would apply it has looked, nor misses a credit committing at the
/// same moment. Until stop 15 the seller's lock did this (reversals took it exclusively), and
/// one cancel held up every settlement of its sellers: `just bench e2e` found settlements
/// waiting on it in 403 of 605 samples (docs/benchmarks.md). Keys are the order number folded
/// to 32 bits; two orders sharing a key only wait for each other.
pub async fn lock_order(conn: &mut PgConnection, payment_event_no: i64) -> Result<(), sqlx::Error> {
    lock_order_key(conn, order_lock_key(payment_event_no)).await
}

/// The key of an order's lock ([`lock_order`]); taking several, sort by this.
pub fn order_lock_key(payment_event_no: i64) -> i32 {
    (payment_event_no ^ (payment_event_no >> 32)) as i32
}

/// The locks of several orders ([`lock_order`]), ascending by key, each key once (two orders
/// may share one): the one order in which a transaction holding more than one takes them.
pub async fn lock_orders(
    conn: &mut PgConnection,
    payment_event_nos: impl IntoIterator<Item = i64>,
) -> Result<(), sqlx::Error> {
    let mut keys: Vec<i32> = payment_event_nos.into_iter().map(order_lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        lock_order_key(conn, key).await?;
    }
    Ok(())
}

/// [`lock_order`] by key.
pub async fn lock_order_key(conn: &mut PgConnection, key: i32) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select pg_advisory_xact_lock($1, $2)",
        ORDER_LOCK_CLASS,
        key
    )
    .execute(conn)
    .await
    .map(|_| ())
}
