//! Seller rows. Query functions take a connection so handlers decide the transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::status::SellerStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SellerRow {
    pub seller_no: i64,
    pub seller_id: String,
    pub status: SellerStatus,
    pub wallet_no: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert_seller(
    conn: &mut PgConnection,
    seller_no: i64,
    seller_id: &str,
    registration_key: Option<&str>,
) -> Result<SellerRow, sqlx::Error> {
    sqlx::query_as(
        "insert into sellers (seller_no, seller_id, status, registration_key)
         values ($1, $2, $3, $4)
         returning seller_no, seller_id, status, wallet_no, created_at, updated_at",
    )
    .bind(seller_no)
    .bind(seller_id)
    .bind(SellerStatus::Pending)
    .bind(registration_key)
    .fetch_one(conn)
    .await
}

/// The seller a registration's Idempotency-Key made, if any.
pub async fn find_by_registration_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<SellerRow>, sqlx::Error> {
    sqlx::query_as(
        "select seller_no, seller_id, status, wallet_no, created_at, updated_at
         from sellers where registration_key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await
}

pub async fn find_seller(
    conn: &mut PgConnection,
    seller_no: i64,
) -> Result<Option<SellerRow>, sqlx::Error> {
    sqlx::query_as(
        "select seller_no, seller_id, status, wallet_no, created_at, updated_at
         from sellers where seller_no = $1",
    )
    .bind(seller_no)
    .fetch_optional(conn)
    .await
}

/// Marks the seller ACTIVE with its wallet. Returns the row only when this call changed it, so
/// a redelivered `wallet.created` does not announce the activation twice.
pub async fn activate_seller(
    conn: &mut PgConnection,
    seller_no: i64,
    wallet_no: i64,
) -> Result<Option<SellerRow>, sqlx::Error> {
    sqlx::query_as(
        "update sellers set status = $3, wallet_no = $2
         where seller_no = $1 and status = $4
         returning seller_no, seller_id, status, wallet_no, created_at, updated_at",
    )
    .bind(seller_no)
    .bind(wallet_no)
    .bind(SellerStatus::Active)
    .bind(SellerStatus::Pending)
    .fetch_optional(conn)
    .await
}
