//! The product detail cache (`product_details`), fed by `catalog.product.created/updated` so
//! the ranking never calls catalog-service. Each row keeps the catalog row version it came
//! from; an event applies only when it is newer, so a late or replayed older event never
//! overwrites newer details, whatever order the consumer sees them in.

use std::collections::HashMap;

use events::ProductChanged;
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProductDetails {
    pub product_no: i64,
    pub seller_no: i64,
    pub name: String,
    pub price: Decimal,
    pub source_version: i64,
}

/// Stores `product` unless the cache already holds this or a newer version. `true` if stored.
pub async fn upsert(
    conn: &mut PgConnection,
    product: &ProductChanged,
) -> Result<bool, sqlx::Error> {
    let stored = sqlx::query(
        "insert into product_details (product_no, seller_no, name, price, source_version)
         values ($1, $2, $3, $4, $5)
         on conflict (product_no) do update
            set seller_no = excluded.seller_no, name = excluded.name,
                price = excluded.price, source_version = excluded.source_version
          where product_details.source_version < excluded.source_version",
    )
    .bind(product.product_no)
    .bind(product.seller_no)
    .bind(&product.name)
    .bind(product.price)
    .bind(product.version)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(stored == 1)
}

/// Details of those of `product_nos` the cache knows, by product number.
pub async fn find_many(
    pool: &PgPool,
    product_nos: &[i64],
) -> Result<HashMap<i64, ProductDetails>, sqlx::Error> {
    if product_nos.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ProductDetails> = sqlx::query_as(
        "select product_no, seller_no, name, price, source_version
         from product_details where product_no = any($1)",
    )
    .bind(product_nos)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.product_no, r)).collect())
}
