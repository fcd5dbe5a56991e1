//! READY payments expire. Toss gives a merchant a limited time (10 minutes) from the customer's
//! approval to confirm; after it, a confirm answers `NOT_FOUND_PAYMENT_SESSION` and the payment
//! reads `EXPIRED`. The sandbox expires a payment when it is next touched, by a confirm or a
//! lookup, so nothing runs in the background (`SANDBOX_READY_TTL_MS`). Until stop 21 it never
//! expired one, and a merchant's handling of `EXPIRED` (an order whose confirm never reached
//! the PSP must end FAILURE, not wait forever) was never exercised.

use std::time::Duration;

use sqlx::PgConnection;

use crate::store::By;

/// Moves the payment to EXPIRED if it is still READY and was approved longer than `ttl` ago;
/// whether it did.
pub async fn expire_if_stale(
    conn: &mut PgConnection,
    by: By<'_>,
    ttl: Duration,
) -> Result<bool, sqlx::Error> {
    let ttl = ttl.as_secs_f64();
    let expired = match by {
        By::PaymentKey(key) => sqlx::query!(
            "update payments set status = 'EXPIRED'
              where payment_key = $1 and status = 'READY'
                and requested_at < now() - make_interval(secs => $2)",
            key,
            ttl,
        )
        .execute(conn)
        .await?
        .rows_affected(),
        By::OrderId(order_id) => sqlx::query!(
            "update payments set status = 'EXPIRED'
              where order_id = $1 and status = 'READY'
                and requested_at < now() - make_interval(secs => $2)",
            order_id,
            ttl,
        )
        .execute(conn)
        .await?
        .rows_affected(),
    };
    Ok(expired > 0)
}
