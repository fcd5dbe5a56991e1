//! The Idempotency-Key of `POST /api/products` (migration 20261231000001_product_creations):
//! per seller, the key, the request it came with and the product it created. The key's row is
//! written after the product, in the same transaction: a second request with the key waits on
//! the first one's row, and finds it once that commits (its own product then rolls back).

use serde_json::Value;
use sqlx::PgConnection;

/// What a key says of the product just inserted.
pub enum Creation {
    /// The key is new: the product stands.
    New,
    /// The key created this product before, from the same request.
    Repeat(i64),
    /// The key was used with another request.
    Reused,
}

pub async fn record(
    conn: &mut PgConnection,
    seller_no: i64,
    key: &str,
    request: &Value,
    product_no: i64,
) -> Result<Creation, sqlx::Error> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into product_creations (seller_no, idempotency_key, request, product_no)
         values ($1, $2, $3, $4) on conflict (seller_no, idempotency_key) do nothing
         returning product_no",
    )
    .bind(seller_no)
    .bind(key)
    .bind(request)
    .bind(product_no)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Creation::New);
    }
    let (stored, earlier): (Value, i64) = sqlx::query_as(
        "select request, product_no from product_creations
          where seller_no = $1 and idempotency_key = $2",
    )
    .bind(seller_no)
    .bind(key)
    .fetch_one(conn)
    .await?;
    Ok(if &stored == request {
        Creation::Repeat(earlier)
    } else {
        Creation::Reused
    })
}
