//! One attempt at creating or deleting a review inside the caller's transaction: the review
//! row, the product's aggregates (count and star sum under an optimistic lock on `version`)
//! and the event are written together or not at all.
//!
//! A lost optimistic lock is [`WriteError::VersionConflict`]: the caller rolls back and runs
//! the whole attempt again in a fresh transaction ([`service_kit::retry::optimistic_lock`]), with the same review
//! number. The reference compensated a failed create by decrementing (and so drifted on
//! retries); here a lost attempt leaves nothing behind, so a retry counts the review once.

use std::time::Duration;

use events::{Envelope, ReviewChanged, ReviewCreated, ReviewDeleted};
use outbox::{Outbox, OutboxTx};
use service_kit::{
    error::{from_db_error, ConstraintRule},
    ApiError,
};
use sqlx::PgConnection;

use crate::{
    input::NewReview,
    purchases,
    store::{self, NewReviewRow, ReviewRow},
};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the review counts changed concurrently")]
    VersionConflict,
    #[error("member {member_no} has not bought product {product_no}")]
    NotPurchased { member_no: i64, product_no: i64 },
    #[error("member {member_no} has already reviewed product {product_no}")]
    AlreadyReviewed { member_no: i64, product_no: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl WriteError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::VersionConflict)
    }
}

/// The table checks back up validation; should one fire anyway, it is the client's 400.
const CONSTRAINTS: &[ConstraintRule] = &[
    ConstraintRule {
        constraint: "product_reviews_title_check",
        status: 400,
        code: "VALIDATION_FAILED",
        detail: "title must be 1-100 characters",
    },
    ConstraintRule {
        constraint: "product_reviews_content_check",
        status: 400,
        code: "VALIDATION_FAILED",
        detail: "content must be 1-3000 characters",
    },
];

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        match err {
            // Only after every retry lost: the client may simply repeat the request.
            WriteError::VersionConflict => ApiError::conflict(
                "CONCURRENT_UPDATE",
                "the product's review counts kept changing concurrently; retry",
            ),
            e @ WriteError::NotPurchased { .. } => {
                ApiError::forbidden_because("PURCHASE_REQUIRED", e.to_string())
            }
            e @ WriteError::AlreadyReviewed { .. } => {
                ApiError::conflict("REVIEW_EXISTS", format!("{e}; delete it to write another"))
            }
            WriteError::Db(e) => from_db_error(e, CONSTRAINTS),
        }
    }
}

/// Traces each lost optimistic lock, so contention shows in the logs before it becomes 409s.
pub fn log_retry(err: &WriteError, delay: Duration) {
    tracing::debug!(error = %err, ?delay, "review counts changed concurrently; retrying");
}

/// Stores the review, counts it and announces `review.product.created`. With
/// `purchase_required`, only a member who bought the product may, once while the review lives
/// (checked under the purchase row's lock, so two reviews sent at once cannot both pass).
pub async fn create(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    product_review_no: i64,
    review: &NewReview,
    purchase_required: bool,
) -> Result<ReviewRow, WriteError> {
    if purchase_required {
        let (member_no, product_no) = (review.member_no, review.product_no);
        if !purchases::lock_purchase(conn, member_no, product_no).await? {
            return Err(WriteError::NotPurchased {
                member_no,
                product_no,
            });
        }
        if store::has_live_review(conn, member_no, product_no).await? {
            return Err(WriteError::AlreadyReviewed {
                member_no,
                product_no,
            });
        }
    }
    let stars = review.star_rating.stars();
    let row = store::insert_review(
        conn,
        &NewReviewRow {
            product_review_no,
            product_no: review.product_no,
            member_no: review.member_no,
            title: &review.title,
            content: &review.content,
            star_rating: i16::from(stars),
        },
    )
    .await?;
    adjust_counts(conn, row.product_no, 1, i64::from(stars)).await?;
    let event = Envelope::new(ReviewCreated(changed(&row, stars)));
    outbox.append(conn, row.product_no, &event, &[]).await?;
    Ok(row)
}

/// What a delete found.
#[derive(Debug)]
pub enum Deletion {
    /// This call deleted the review (and uncounted it).
    Deleted,
    /// The member's review was deleted before: a no-op.
    AlreadyDeleted,
    /// No such review, or it is another member's (the same answer, so a stranger learns
    /// nothing about other members' reviews).
    NotFound,
}

/// Soft-deletes the member's review, uncounts it and announces `review.product.deleted` with
/// the rating and creation time that were counted, so consumers subtract exactly that.
pub async fn delete(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    product_review_no: i64,
    member_no: i64,
) -> Result<Deletion, WriteError> {
    let Some(row) = store::soft_delete_review(conn, product_review_no, member_no).await? else {
        return Ok(match store::find_review(conn, product_review_no).await? {
            Some(r) if r.member_no == member_no && r.deleted_at.is_some() => {
                Deletion::AlreadyDeleted
            }
            _ => Deletion::NotFound,
        });
    };
    uncount(conn, outbox, &row).await?;
    Ok(Deletion::Deleted)
}

/// [`delete`] for a review whose purchase was refunded in full (refunds.rs): the counts row
/// is locked before it is read, so the optimistic lock cannot be lost to a concurrent review
/// (a consumer has no fresh transaction to retry in). Locks the review row, then the counts
/// row, as [`delete`] does.
pub async fn withdraw(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    product_review_no: i64,
    member_no: i64,
) -> Result<(), WriteError> {
    let Some(row) = store::soft_delete_review(conn, product_review_no, member_no).await? else {
        return Ok(());
    };
    store::lock_counts(conn, row.product_no).await?;
    uncount(conn, outbox, &row).await
}

/// Takes a deleted review out of the counts and announces it.
async fn uncount(conn: &mut OutboxTx, outbox: &Outbox, row: &ReviewRow) -> Result<(), WriteError> {
    // The table's check keeps star_rating in 1..=5, so the conversion cannot fail.
    let stars = u8::try_from(row.star_rating).unwrap_or_default();
    adjust_counts(conn, row.product_no, -1, -i64::from(stars)).await?;
    let event = Envelope::new(ReviewDeleted(changed(row, stars)));
    outbox.append(conn, row.product_no, &event, &[]).await?;
    Ok(())
}

fn changed(row: &ReviewRow, stars: u8) -> ReviewChanged {
    ReviewChanged {
        product_review_no: row.product_review_no,
        product_no: row.product_no,
        member_no: row.member_no,
        star_rating: stars,
        created_at: row.created_at,
    }
}

/// Read the version, update against it; a concurrent winner aborts this attempt.
async fn adjust_counts(
    conn: &mut PgConnection,
    product_no: i64,
    count_delta: i64,
    sum_delta: i64,
) -> Result<(), WriteError> {
    store::ensure_counts_row(conn, product_no).await?;
    let current = store::find_counts(conn, product_no)
        .await?
        .ok_or(WriteError::VersionConflict)?;
    if store::add_to_counts(conn, product_no, current.version, count_delta, sum_delta).await? {
        Ok(())
    } else {
        Err(WriteError::VersionConflict)
    }
}
