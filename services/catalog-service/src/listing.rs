//! `GET /api/product-listing`: the whole catalog page by page, for the storefront's product
//! list (order-service's pages). Keyset paging by product number, so a deep page costs what the
//! first one does and a product created meanwhile never shifts a page.

use poem_openapi::{param::Query, payload::Json, Object, OpenApi};
use service_kit::{ApiError, FieldError, Id};
use sqlx::PgPool;

use crate::{api::CatalogTag, api::Product, store};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ProductPage {
    /// In product-number order.
    pub products: Vec<Product>,
    /// Pass as `afterProductNo` for the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_after_product_no: Option<Id>,
}

pub struct ListingApi {
    pub pool: PgPool,
}

fn validate(limit: Option<i64>, after: Option<i64>) -> Result<(i64, i64), ApiError> {
    let mut errors = Vec::new();
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError {
            field: "limit".into(),
            message: format!("must be 1-{MAX_LIMIT} (got {limit})"),
        });
    }
    let after = after.unwrap_or(0);
    if after < 0 {
        errors.push(FieldError {
            field: "afterProductNo".into(),
            message: "must not be negative".into(),
        });
    }
    if errors.is_empty() {
        Ok((limit, after))
    } else {
        Err(ApiError::validation(errors))
    }
}

#[OpenApi(tag = "CatalogTag::Products")]
impl ListingApi {
    /// Every product, page by page in product-number order.
    #[oai(
        path = "/api/product-listing",
        method = "get",
        operation_id = "list_all_products"
    )]
    async fn product_listing(
        &self,
        /// Products per page, 1–100 (default 50).
        limit: Query<Option<i64>>,
        /// The previous page's `nextAfterProductNo`; omit for the first page.
        #[oai(name = "afterProductNo")]
        after_product_no: Query<Option<i64>>,
    ) -> Result<Json<ProductPage>, ApiError> {
        let (limit, after) = validate(limit.0, after_product_no.0)?;
        let mut conn = self.pool.acquire().await?;
        let rows = store::list_after(&mut conn, after, limit).await?;
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|r| Id(r.product_no)))
            .flatten();
        Ok(Json(ProductPage {
            products: rows.into_iter().map(Product::from).collect(),
            next_after_product_no: next,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_1_to_100_and_the_cursor_not_negative() {
        assert_eq!(validate(None, None).ok(), Some((50, 0)));
        assert_eq!(validate(Some(100), Some(7)).ok(), Some((100, 7)));
        for (limit, after) in [(Some(0), None), (Some(101), None), (None, Some(-1))] {
            let err = validate(limit, after).expect_err("invalid");
            assert_eq!(err.problem().code, "VALIDATION_FAILED");
        }
    }
}
