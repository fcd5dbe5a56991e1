//! The seed's review API: create, owner-only delete, and a product's reviews with its count
//! and average rating.

use std::sync::Arc;

use backon::Retryable;
use chrono::{DateTime, Utc};
use outbox::Outbox;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi, Tags,
};
use service_kit::{
    auth::{self, Identity},
    ApiError, FieldError, Id,
};
use snowflake::Snowflake;
use sqlx::PgPool;

use crate::{
    input::{self, CreateReview, NewReview, StarRatingType},
    reviews::{self, log_retry, Deletion, WriteError},
    store::{self, ReviewRow},
};

pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

#[derive(Tags)]
enum ReviewTag {
    /// Product reviews and their per-product aggregates.
    Reviews,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Review {
    pub product_review_no: Id,
    pub product_no: Id,
    pub member_no: Id,
    pub title: String,
    pub content: String,
    pub star_rating_type: StarRatingType,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<ReviewRow> for Review {
    type Error = ApiError;

    fn try_from(row: ReviewRow) -> Result<Self, ApiError> {
        let star_rating_type = StarRatingType::from_stars(row.star_rating).ok_or_else(|| {
            ApiError::internal(format!(
                "review {} has rating {}",
                row.product_review_no, row.star_rating
            ))
        })?;
        Ok(Self {
            product_review_no: Id(row.product_review_no),
            product_no: Id(row.product_no),
            member_no: Id(row.member_no),
            title: row.title,
            content: row.content,
            star_rating_type,
            created_at: row.created_at,
        })
    }
}

/// A product's live reviews, newest first, with its aggregates.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ProductReviews {
    pub product_no: Id,
    /// Live (not deleted) reviews of the product, all pages together.
    pub review_count: i64,
    /// Mean stars of the live reviews, rounded to 2 decimals; 0 when there are none.
    pub average_rating: f64,
    /// At most `limit` reviews, newest first.
    pub reviews: Vec<Review>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<Id>,
}

#[derive(ApiResponse)]
enum Created {
    /// The review was stored and counted.
    #[oai(status = 201)]
    Created(Json<Review>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The review is deleted: by this call, or already before (a repeat changes nothing).
    #[oai(status = 204)]
    NoContent,
}

pub struct ReviewApi {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
    /// Reviews only from members who bought the product, one live review each (lib.rs).
    pub purchase_required: bool,
}

impl ReviewApi {
    /// One attempt in a fresh transaction; the retry loop around it re-runs lost attempts.
    async fn create_once(
        &self,
        review_no: i64,
        review: &NewReview,
    ) -> Result<ReviewRow, WriteError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let row = reviews::create(
            &mut tx,
            &self.outbox,
            review_no,
            review,
            self.purchase_required,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn delete_once(&self, review_no: i64, member_no: i64) -> Result<Deletion, WriteError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let deletion = reviews::delete(&mut tx, &self.outbox, review_no, member_no).await?;
        tx.commit().await?;
        Ok(deletion)
    }
}

#[OpenApi(tag = "ReviewTag::Reviews")]
impl ReviewApi {
    /// Write a review (the seed's call).
    ///
    /// Every invalid field is reported at once (400 with `errors`), and then nothing is
    /// stored. Where purchases are required (jwt mode by default), a member who has not bought
    /// the product gets 403 `PURCHASE_REQUIRED` and a second live review of one product 409
    /// `REVIEW_EXISTS`. Emits `review.product.created`.
    #[oai(
        path = "/api/product-reviews",
        method = "post",
        operation_id = "create_review"
    )]
    async fn create_review(
        &self,
        identity: Identity,
        body: Json<CreateReview>,
    ) -> Result<Created, ApiError> {
        identity.claims()?;
        let review = input::validate(body.0).map_err(ApiError::validation)?;
        auth::require_member(&identity, review.member_no)?;
        auth::limit_writes(&identity, Some(review.member_no))?;
        // One number for all attempts: a retried attempt is the same review, not a second one.
        let review_no = self
            .ids
            .next_id()
            .map_err(|e| ApiError::internal_error(&e))?;
        let row = (|| self.create_once(review_no, &review))
            .retry(service_kit::retry::optimistic_lock())
            .when(WriteError::is_conflict)
            .notify(log_retry)
            .await?;
        Ok(Created::Created(Json(row.try_into()?)))
    }

    /// Delete a review (the seed's call; author only, idempotent).
    ///
    /// Only its author (`memberNo`) may. Deleting a deleted review answers 204 again and
    /// changes nothing. A review that does not exist or is another member's answers 404 alike.
    /// Emits `review.product.deleted` once.
    #[oai(
        path = "/api/product-reviews/:productReviewNo",
        method = "delete",
        operation_id = "delete_review"
    )]
    async fn delete_review(
        &self,
        identity: Identity,
        #[oai(name = "productReviewNo")] review_no: Path<Id>,
        #[oai(name = "memberNo")] member_no: Query<Id>,
    ) -> Result<Deleted, ApiError> {
        auth::require_member(&identity, member_no.0 .0)?;
        auth::limit_writes(&identity, Some(member_no.0 .0))?;
        let deletion = (|| self.delete_once(review_no.0 .0, member_no.0 .0))
            .retry(service_kit::retry::optimistic_lock())
            .when(WriteError::is_conflict)
            .notify(log_retry)
            .await?;
        match deletion {
            Deletion::Deleted | Deletion::AlreadyDeleted => Ok(Deleted::NoContent),
            Deletion::NotFound => Err(ApiError::not_found(
                "REVIEW_NOT_FOUND",
                format!("member {} has no review {}", member_no.0, review_no.0),
            )),
        }
    }

    /// A product's reviews with its review count and average rating (the seed's call).
    ///
    /// Newest first. Pages by `limit` (default 20, at most 100) and `cursor` (the previous
    /// page's `nextCursor`).
    #[oai(
        path = "/api/product-reviews/products/:productNo",
        method = "get",
        operation_id = "list_product_reviews"
    )]
    async fn list_product_reviews(
        &self,
        #[oai(name = "productNo")] product_no: Path<Id>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<Id>>,
    ) -> Result<Json<ProductReviews>, ApiError> {
        let limit = limit.0.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::validation(vec![FieldError {
                field: "limit".into(),
                message: format!("must be 1-{MAX_PAGE}"),
            }]));
        }
        let product = product_no.0 .0;
        let mut conn = self.pool.acquire().await?;
        let counts = store::find_counts(&mut conn, product)
            .await?
            .unwrap_or_default();
        // One extra row tells whether an older page exists.
        let mut rows = store::list_reviews(
            &mut conn,
            product,
            cursor.0.map(|c| c.0),
            i64::from(limit) + 1,
        )
        .await?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| Id(r.product_review_no))
        } else {
            None
        };
        let average_rating = if counts.review_count > 0 {
            let mean = counts.star_rating_sum as f64 / counts.review_count as f64;
            (mean * 100.0).round() / 100.0
        } else {
            0.0
        };
        Ok(Json(ProductReviews {
            product_no: product_no.0,
            review_count: counts.review_count,
            average_rating,
            reviews: rows
                .into_iter()
                .map(Review::try_from)
                .collect::<Result<_, _>>()?,
            next_cursor,
        }))
    }
}
