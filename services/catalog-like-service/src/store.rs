//! Like rows and per-product like counts. Query functions take a connection so handlers decide
//! the transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A product's count row as read for an optimistic update.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct LikeCountRow {
    pub like_count: i64,
    pub version: i64,
}

/// Inserts the like unless the member already likes the product. `Some(liked_at)` only when
/// this call created the row: a repeated like must not count twice.
pub async fn insert_like(
    conn: &mut PgConnection,
    product_no: i64,
    member_no: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into product_likes (product_no, member_no) values ($1, $2)
         on conflict (product_no, member_no) do nothing
         returning created_at",
    )
    .bind(product_no)
    .bind(member_no)
    .fetch_optional(conn)
    .await
}

/// When the member liked the product, if they do.
pub async fn find_like(
    conn: &mut PgConnection,
    product_no: i64,
    member_no: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select created_at from product_likes where product_no = $1 and member_no = $2",
    )
    .bind(product_no)
    .bind(member_no)
    .fetch_optional(conn)
    .await
}

/// Removes the like and answers when it was made (the unlike event carries it), or `None`
/// when there was nothing to remove.
pub async fn delete_like(
    conn: &mut PgConnection,
    product_no: i64,
    member_no: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "delete from product_likes where product_no = $1 and member_no = $2
         returning created_at",
    )
    .bind(product_no)
    .bind(member_no)
    .fetch_optional(conn)
    .await
}

/// Creates the product's count row at zero if it is missing, so the optimistic update below
/// always has a version to compare against.
pub async fn ensure_count_row(conn: &mut PgConnection, product_no: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into product_like_counts (product_no) values ($1)
         on conflict (product_no) do nothing",
    )
    .bind(product_no)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_count(
    conn: &mut PgConnection,
    product_no: i64,
) -> Result<Option<LikeCountRow>, sqlx::Error> {
    sqlx::query_as("select like_count, version from product_like_counts where product_no = $1")
        .bind(product_no)
        .fetch_optional(conn)
        .await
}

/// Adds `delta` if nobody changed the count since `version` was read (optimistic lock).
/// `None` means a concurrent writer won and the caller must retry from a fresh read. A result
/// below zero violates `product_like_counts_like_count_check` instead of being stored.
pub async fn add_to_count(
    conn: &mut PgConnection,
    product_no: i64,
    version: i64,
    delta: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "update product_like_counts set like_count = like_count + $3, version = version + 1
         where product_no = $1 and version = $2
         returning like_count",
    )
    .bind(product_no)
    .bind(version)
    .bind(delta)
    .fetch_optional(conn)
    .await
}
