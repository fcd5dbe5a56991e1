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

/// Cancels whose PSP outcome is not known yet (the recovery job repeats them).
pub async fn open_cancels(order_db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from payment_cancels where status in ('REQUESTED', 'UNKNOWN')",
    )
    .fetch_one(order_db)
    .await
}

/// Done cancels whose wallet reversal has not been acknowledged (wallet.reversed) yet.
pub async fn cancels_not_reversed(order_db: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from payment_cancels where status = 'DONE' and not is_wallet_done",
    )
    .fetch_one(order_db)
    .await
}
