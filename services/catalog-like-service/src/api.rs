//! The seed's like API: like, unlike and the count of a product.
//!
//! Products are not checked against the catalog (the reference did not either, and a call to
//! catalog-service per like would couple the two): a like of an unknown product is counted
//! like any other, and an unliked-by-everyone product simply answers a count of 0.

use backon::Retryable;
use chrono::{DateTime, Utc};
use outbox::Outbox;
use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi, Tags};
use service_kit::{
    auth::{self, Identity},
    ApiError, Id,
};
use sqlx::PgPool;

use crate::likes::{self, log_retry, Outcome, WriteError};

#[derive(Tags)]
enum LikeTag {
    /// Members' likes of products and the per-product counts.
    Likes,
}

/// A member's like of a product after the call, with the product's count.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct LikeStatus {
    pub product_no: Id,
    pub member_no: Id,
    /// Whether the member likes the product now.
    pub liked: bool,
    /// Whether this call changed anything (a repeat like or an unlike of nothing does not).
    pub changed: bool,
    /// When the like was made (after an unlike: when the removed like was made).
    #[oai(skip_serializing_if_is_none)]
    pub liked_at: Option<DateTime<Utc>>,
    pub like_count: i64,
}

impl LikeStatus {
    fn new(product_no: Id, member_no: Id, liked: bool, outcome: Outcome) -> Self {
        Self {
            product_no,
            member_no,
            liked,
            changed: outcome.changed,
            liked_at: outcome.liked_at,
            like_count: outcome.like_count,
        }
    }
}

/// How many members like a product.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ProductLikeCount {
    pub product_no: Id,
    pub like_count: i64,
}

#[derive(ApiResponse)]
enum Liked {
    /// The like was recorded and counted.
    #[oai(status = 201)]
    Created(Json<LikeStatus>),
    /// The member already liked the product: nothing changed, nothing counted twice.
    #[oai(status = 200)]
    AlreadyLiked(Json<LikeStatus>),
}

pub struct LikeApi {
    pub pool: PgPool,
    pub outbox: Outbox,
}

impl LikeApi {
    /// One attempt in a fresh transaction; the retry loop around it re-runs lost attempts.
    async fn like_once(&self, product_no: i64, member_no: i64) -> Result<Outcome, WriteError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let outcome = likes::like(&mut tx, &self.outbox, product_no, member_no).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn unlike_once(&self, product_no: i64, member_no: i64) -> Result<Outcome, WriteError> {
        let mut tx = self.outbox.begin(&self.pool).await?;
        let outcome = likes::unlike(&mut tx, &self.outbox, product_no, member_no).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

#[OpenApi(tag = "LikeTag::Likes")]
impl LikeApi {
    /// Like a product (the seed's call).
    ///
    /// 201 the first time; 200 (and no second count) when the member already likes it. Emits
    /// `like.product.liked` once per new like.
    #[oai(
        path = "/api/catalog-likes/products/:productNo/members/:memberNo",
        method = "post",
        operation_id = "like_product"
    )]
    async fn like_product(
        &self,
        identity: Identity,
        #[oai(name = "productNo")] product_no: Path<Id>,
        #[oai(name = "memberNo")] member_no: Path<Id>,
    ) -> Result<Liked, ApiError> {
        let (product, member) = (product_no.0, member_no.0);
        auth::require_member(&identity, member.0)?;
        auth::limit_writes(&identity, Some(member.0))?;
        let outcome = (|| self.like_once(product.0, member.0))
            .retry(service_kit::retry::optimistic_lock())
            .when(WriteError::is_conflict)
            .notify(log_retry)
            .await?;
        let status = LikeStatus::new(product, member, true, outcome);
        if outcome.changed {
            Ok(Liked::Created(Json(status)))
        } else {
            Ok(Liked::AlreadyLiked(Json(status)))
        }
    }

    /// Unlike a product (the seed's call; idempotent).
    ///
    /// Always 200; `changed` tells whether a like was removed. Unliking a product the member
    /// does not like is a no-op (the count never goes below zero). Emits
    /// `like.product.unliked`, carrying the original like's time, only on removal.
    #[oai(
        path = "/api/catalog-likes/products/:productNo/members/:memberNo",
        method = "delete",
        operation_id = "unlike_product"
    )]
    async fn unlike_product(
        &self,
        identity: Identity,
        #[oai(name = "productNo")] product_no: Path<Id>,
        #[oai(name = "memberNo")] member_no: Path<Id>,
    ) -> Result<Json<LikeStatus>, ApiError> {
        let (product, member) = (product_no.0, member_no.0);
        auth::require_member(&identity, member.0)?;
        auth::limit_writes(&identity, Some(member.0))?;
        let outcome = (|| self.unlike_once(product.0, member.0))
            .retry(service_kit::retry::optimistic_lock())
            .when(WriteError::is_conflict)
            .notify(log_retry)
            .await?;
        Ok(Json(LikeStatus::new(product, member, false, outcome)))
    }

    /// How many members like a product (the seed's call).
    ///
    /// 0 for a product nobody likes.
    #[oai(
        path = "/api/catalog-likes/products/:productNo",
        method = "get",
        operation_id = "get_like_count"
    )]
    async fn get_like_count(
        &self,
        #[oai(name = "productNo")] product_no: Path<Id>,
    ) -> Result<Json<ProductLikeCount>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let like_count = likes::current_count(&mut conn, product_no.0 .0).await?;
        Ok(Json(ProductLikeCount {
            product_no: product_no.0,
            like_count,
        }))
    }
}
