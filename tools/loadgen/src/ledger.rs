//! Questions about order-service's ledger that both the settle-down wait and the invariants
//! ask.

use sqlx::PgPool;

/// Payment lines still EXECUTING or UNKNOWN (the recovery job's work).
pub async fn open_lines(order_db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from payment_orders where status in ('EXECUTING', 'UNKNOWN')",
    )
    .fetch_one(order_db)
    .await
}

/// Paid orders whose wallet settlement has not come back yet.
pub async fn paid_not_settled(order_db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from payment_events where is_payment_done and not is_wallet_done",
    )
    .fetch_one(order_db)
    .await
}
