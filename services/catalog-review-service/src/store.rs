//! Review rows and per-product aggregates. Query functions take a connection so handlers
//! decide the transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

const REVIEW_COLUMNS: &str =
    "product_review_no, product_no, member_no, title, content, star_rating, deleted_at, created_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    pub product_review_no: i64,
    pub product_no: i64,
    pub member_no: i64,
    pub title: String,
    pub content: String,
    pub star_rating: i16,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A product's aggregates as read for an optimistic update.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct ReviewCountsRow {
    pub review_count: i64,
    pub star_rating_sum: i64,
    pub version: i64,
}

pub struct NewReviewRow<'a> {
    pub product_review_no: i64,
    pub product_no: i64,
    pub member_no: i64,
    pub title: &'a str,
    pub content: &'a str,
    pub star_rating: i16,
}

pub async fn insert_review(
    conn: &mut PgConnection,
    review: &NewReviewRow<'_>,
) -> Result<ReviewRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into product_reviews
             (product_review_no, product_no, member_no, title, content, star_rating)
         values ($1, $2, $3, $4, $5, $6)
         returning {REVIEW_COLUMNS}"
    ))
    .bind(review.product_review_no)
    .bind(review.product_no)
    .bind(review.member_no)
    .bind(review.title)
    .bind(review.content)
    .bind(review.star_rating)
    .fetch_one(conn)
    .await
}

pub async fn find_review(
    conn: &mut PgConnection,
    product_review_no: i64,
) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {REVIEW_COLUMNS} from product_reviews where product_review_no = $1"
    ))
    .bind(product_review_no)
    .fetch_optional(conn)
    .await
}

/// Whether `member_no` has a live review of `product_no`.
pub async fn has_live_review(
    conn: &mut PgConnection,
    member_no: i64,
    product_no: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from product_reviews
                         where member_no = $1 and product_no = $2 and deleted_at is null)",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_one(conn)
    .await
}

/// The member's live reviews of the product (one while purchases are required; more may have
/// been written while they were not).
pub async fn live_review_nos(
    conn: &mut PgConnection,
    member_no: i64,
    product_no: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select product_review_no from product_reviews
          where member_no = $1 and product_no = $2 and deleted_at is null
          order by product_review_no",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_all(conn)
    .await
}

/// Locks the product's counts row, so a read of its version cannot be overtaken until commit.
pub async fn lock_counts(conn: &mut PgConnection, product_no: i64) -> Result<(), sqlx::Error> {
    sqlx::query("select 1 from product_review_counts where product_no = $1 for update")
        .bind(product_no)
        .execute(conn)
        .await?;
    Ok(())
}

/// Soft-deletes a live review of `member_no`. `None` when there is no such live review (absent,
/// another member's, or already deleted): a concurrent second delete waits for the first's row
/// lock, then no longer matches `deleted_at is null`, so a review is only ever deleted once.
pub async fn soft_delete_review(
    conn: &mut PgConnection,
    product_review_no: i64,
    member_no: i64,
) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update product_reviews set deleted_at = now()
         where product_review_no = $1 and member_no = $2 and deleted_at is null
         returning {REVIEW_COLUMNS}"
    ))
    .bind(product_review_no)
    .bind(member_no)
    .fetch_optional(conn)
    .await
}

/// One page of a product's live reviews, newest first, after the review `before` (keyset on
/// the `product_reviews_product_recent_idx` order; a cursor that names no review yields none).
pub async fn list_reviews(
    conn: &mut PgConnection,
    product_no: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ReviewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {REVIEW_COLUMNS} from product_reviews
         where product_no = $1 and deleted_at is null
           and ($2::bigint is null or (created_at, product_review_no) <
               (select created_at, product_review_no from product_reviews
                where product_review_no = $2))
         order by created_at desc, product_review_no desc
         limit $3"
    ))
    .bind(product_no)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Creates the product's aggregate row at zero if it is missing, so the optimistic update
/// always has a version to compare against.
pub async fn ensure_counts_row(
    conn: &mut PgConnection,
    product_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into product_review_counts (product_no) values ($1)
         on conflict (product_no) do nothing",
    )
    .bind(product_no)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_counts(
    conn: &mut PgConnection,
    product_no: i64,
) -> Result<Option<ReviewCountsRow>, sqlx::Error> {
    sqlx::query_as(
        "select review_count, star_rating_sum, version from product_review_counts
         where product_no = $1",
    )
    .bind(product_no)
    .fetch_optional(conn)
    .await
}

/// Adds to count and rating sum if nobody changed them since `version` was read (optimistic
/// lock); `false` means a concurrent writer won. A count below zero, or a sum outside
/// `count..=5·count`, violates the table's checks instead of being stored.
pub async fn add_to_counts(
    conn: &mut PgConnection,
    product_no: i64,
    version: i64,
    count_delta: i64,
    sum_delta: i64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update product_review_counts
         set review_count = review_count + $3, star_rating_sum = star_rating_sum + $4,
             version = version + 1
         where product_no = $1 and version = $2",
    )
    .bind(product_no)
    .bind(version)
    .bind(count_delta)
    .bind(sum_delta)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}
