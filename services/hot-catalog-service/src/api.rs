//! `GET /api/hot-products`: the ranking with scores decayed to now and cached product details.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use poem_openapi::{param::Query, payload::Json, Object, OpenApi, Tags};
use rust_decimal::Decimal;
use service_kit::{ApiError, FieldError, Id};
use sqlx::PgPool;

use crate::{
    clock::Clock,
    details,
    ranking::{Ranking, Snapshot},
};

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 100;
/// How deep into the ranking one request looks for products the catalog knows. Likes of
/// products without details are parked, not scored (parked.rs), and reviews need a purchase;
/// a ranked product may still lack details here (scored before stop 26's parking), so such
/// members are skipped at read time. The scan grows ×4 from `2·limit` up to this bound, so a
/// flood of more than `MAX_SCAN` unknown products above the real ones shortens the answer
/// rather than making the request unbounded.
pub const MAX_SCAN: usize = 2000;

#[derive(Tags)]
enum HotTag {
    /// Products ranked by recent likes, reviews and purchases.
    HotProducts,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct HotProduct {
    /// 1 for the hottest product, then 2, 3, … in order.
    pub rank: u32,
    pub product_no: Id,
    /// Decayed to `asOf`: each like, review and paid order line counts its weight, halved per
    /// half-life since it happened.
    pub score: f64,
    /// From the catalog's `catalog.product.created/updated`: only products the catalog
    /// announced are ranked, so these are always present.
    pub name: String,
    pub price: Decimal,
    pub seller_no: Id,
    pub like_count: i64,
    pub review_count: i64,
    /// Mean star rating of the current reviews; `null` without reviews.
    #[oai(nullable)]
    pub average_rating: Option<f64>,
    pub paid_order_lines: i64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct HotProducts {
    /// The instant the scores are decayed to.
    pub as_of: DateTime<Utc>,
    pub half_life_seconds: f64,
    /// Best first.
    pub products: Vec<HotProduct>,
}

pub struct HotProductsApi {
    pub ranking: Ranking,
    pub pool: PgPool,
    pub clock: Arc<dyn Clock>,
}

fn validate_limit(limit: Option<i64>) -> Result<usize, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        n => Err(ApiError::validation(vec![FieldError {
            field: "limit".into(),
            message: format!("must be 1-{MAX_LIMIT} (got {n})"),
        }])),
    }
}

impl HotProductsApi {
    /// The ranking answer; the HTTP operation and the benchmark both call it.
    pub async fn hot_products(&self, limit: usize) -> Result<HotProducts, ApiError> {
        let (snapshot, mut found) = self.known_top(limit).await?;
        let now = self.clock.now();
        let model = self.ranking.model();
        let epoch = snapshot.epoch_ms.unwrap_or_else(|| now.timestamp_millis());
        // The ranking's order, keeping only products with details (see MAX_SCAN).
        let products = snapshot
            .entries
            .iter()
            .filter_map(|entry| found.remove(&entry.product_no).map(|d| (entry, d)))
            .take(limit)
            .zip(1u32..)
            .map(|((entry, detail), rank)| {
                let reviews = entry.reviews.max(0);
                HotProduct {
                    rank,
                    product_no: Id(entry.product_no),
                    score: model.decayed(entry.stored, epoch, now),
                    name: detail.name,
                    price: detail.price,
                    seller_no: Id(detail.seller_no),
                    // Counters are exact once every event is in; a take-back handled before
                    // its add can dip one below zero for a moment, never shown.
                    like_count: entry.likes.max(0),
                    review_count: reviews,
                    average_rating: (reviews > 0)
                        .then(|| entry.stars.max(0) as f64 / reviews as f64),
                    paid_order_lines: entry.paid_lines.max(0),
                }
            })
            .collect();
        Ok(HotProducts {
            as_of: now,
            half_life_seconds: model.half_life_ms() as f64 / 1000.0,
            products,
        })
    }

    /// One ranking snapshot deep enough to hold `limit` known products (or all of the ranking,
    /// or [`MAX_SCAN`] entries), with the details of those known. Each read is one atomic
    /// snapshot; a deeper read replaces a shallower one rather than joining it.
    async fn known_top(
        &self,
        limit: usize,
    ) -> Result<(Snapshot, HashMap<i64, details::ProductDetails>), ApiError> {
        let mut depth = (limit * 2).min(MAX_SCAN);
        loop {
            let snapshot = self.ranking.top(depth).await.map_err(|e| {
                tracing::error!(error = %e, "ranking unavailable");
                ApiError::unavailable("RANKING_UNAVAILABLE", "the ranking store is unavailable")
            })?;
            let product_nos: Vec<i64> = snapshot.entries.iter().map(|e| e.product_no).collect();
            let found = details::find_many(&self.pool, &product_nos).await?;
            let exhausted = snapshot.entries.len() < depth;
            if found.len() >= limit || exhausted || depth >= MAX_SCAN {
                if !exhausted && found.len() < limit {
                    tracing::warn!(
                        depth,
                        known = found.len(),
                        "hot products: scan bound reached"
                    );
                }
                return Ok((snapshot, found));
            }
            depth = (depth * 4).min(MAX_SCAN);
        }
    }
}

#[OpenApi(tag = "HotTag::HotProducts")]
impl HotProductsApi {
    /// The hottest products, best first (the seed's call).
    ///
    /// Score = 2·likes + 3·reviews + 5·(sum of star ratings) + 10·(paid order lines) by
    /// default, each contribution halving per half-life (24 h by default) since it happened.
    #[oai(
        path = "/api/hot-products",
        method = "get",
        operation_id = "get_hot_products"
    )]
    async fn get_hot_products(
        &self,
        /// How many products, 1–100 (default 10).
        limit: Query<Option<i64>>,
    ) -> Result<Json<HotProducts>, ApiError> {
        let limit = validate_limit(limit.0)?;
        Ok(Json(self.hot_products(limit).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_to_ten_and_must_be_1_to_100() {
        assert_eq!(validate_limit(None).ok(), Some(10));
        assert_eq!(validate_limit(Some(1)).ok(), Some(1));
        assert_eq!(validate_limit(Some(100)).ok(), Some(100));
        for bad in [0, -1, 101] {
            let err = validate_limit(Some(bad)).expect_err("out of range");
            assert_eq!(err.problem().code, "VALIDATION_FAILED");
        }
    }
}
