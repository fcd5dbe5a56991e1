//! Products and the catalog's own list of active sellers.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProductRow {
    pub product_no: i64,
    pub seller_no: i64,
    pub name: String,
    pub description: String,
    pub price: Decimal,
    pub currency: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "product_no, seller_no, name, description, price, currency, version, created_at, updated_at";

pub struct NewProduct<'a> {
    pub product_no: i64,
    pub seller_no: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub price: Decimal,
}

pub async fn insert_product(
    conn: &mut PgConnection,
    p: &NewProduct<'_>,
) -> Result<ProductRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into products (product_no, seller_no, name, description, price)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    ))
    .bind(p.product_no)
    .bind(p.seller_no)
    .bind(p.name)
    .bind(p.description)
    .bind(p.price)
    .fetch_one(conn)
    .await
}

/// Applies the given changes and bumps the version; `None` when the product does not exist.
pub async fn update_product(
    conn: &mut PgConnection,
    product_no: i64,
    name: Option<&str>,
    description: Option<&str>,
    price: Option<Decimal>,
) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update products set name = coalesce($2, name), description = coalesce($3, description),
                price = coalesce($4, price), version = version + 1
         where product_no = $1 returning {COLUMNS}"
    ))
    .bind(product_no)
    .bind(name)
    .bind(description)
    .bind(price)
    .fetch_optional(conn)
    .await
}

pub async fn find_products(
    conn: &mut PgConnection,
    product_nos: &[i64],
) -> Result<Vec<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from products where product_no = any($1)"
    ))
    .bind(product_nos)
    .fetch_all(conn)
    .await
}

pub async fn is_seller_active(
    conn: &mut PgConnection,
    seller_no: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from active_sellers where seller_no = $1)")
        .bind(seller_no)
        .fetch_one(conn)
        .await
}

pub async fn mark_seller_active(
    conn: &mut PgConnection,
    seller_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into active_sellers (seller_no) values ($1) on conflict do nothing")
        .bind(seller_no)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Up to `limit` products after `after` in product-number order (keyset paging: a page is one
/// index range scan however deep it is).
pub async fn list_after(
    conn: &mut PgConnection,
    after: i64,
    limit: i64,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from products where product_no > $1 order by product_no limit $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}
