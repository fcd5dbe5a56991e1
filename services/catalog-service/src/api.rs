//! Products: create, update, get one, get many in the requested order.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use events::{Envelope, ProductChanged, ProductCreated, ProductUpdated};
use outbox::Outbox;
use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi, Tags,
};
use rust_decimal::Decimal;
use service_kit::{
    auth::{self, Identity},
    error::from_db_error,
    strict::{json_opt_string, json_string},
    ApiError, Id,
};
use snowflake::Snowflake;
use sqlx::PgPool;

use crate::{
    creations::{self, Creation},
    store::{self, NewProduct, ProductRow},
    validation::{check_currency, check_fields, parse_product_list, UPDATE_CONSTRAINTS},
};

#[derive(Tags)]
pub(crate) enum CatalogTag {
    /// Products of active sellers.
    Products,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct CreateProduct {
    /// An ACTIVE seller (onboarding finished).
    pub seller_no: Id,
    /// 1–200 characters.
    #[oai(deserialize_with = "json_string")]
    pub name: String,
    /// Up to 2,000 characters; empty when absent or `null`.
    #[oai(deserialize_with = "json_opt_string", nullable)]
    pub description: Option<String>,
    /// Whole won, greater than 0 and below 10^12 (KRW has no minor unit: the PSP refuses
    /// fractions).
    pub price: Decimal,
    /// `KRW`, the only currency for now; absent means `KRW`.
    #[oai(deserialize_with = "json_opt_string", nullable)]
    pub currency: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct UpdateProduct {
    /// Absent or `null`: unchanged.
    #[oai(deserialize_with = "json_opt_string", nullable)]
    pub name: Option<String>,
    #[oai(deserialize_with = "json_opt_string", nullable)]
    pub description: Option<String>,
    /// Whole won (see `CreateProduct`).
    #[oai(nullable)]
    pub price: Option<Decimal>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Product {
    pub product_no: Id,
    pub seller_no: Id,
    pub name: String,
    pub description: String,
    pub price: Decimal,
    /// The price's currency: `KRW`.
    pub currency: String,
    /// Grows by one per change.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ProductList {
    /// Found products, in the order requested.
    pub products: Vec<Product>,
    /// Requested numbers with no product.
    pub missing_product_nos: Vec<Id>,
}

#[derive(ApiResponse)]
enum Created {
    /// The product was created; `catalog.product.created` is on its way.
    #[oai(status = 201)]
    Created(Json<Product>),
    /// The same `Idempotency-Key` and request created this product before: answered again,
    /// nothing new created.
    #[oai(status = 200)]
    Repeated(Json<Product>),
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Self {
        Self {
            product_no: Id(r.product_no),
            seller_no: Id(r.seller_no),
            name: r.name,
            description: r.description,
            price: r.price,
            currency: r.currency,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn changed(r: &ProductRow) -> ProductChanged {
    ProductChanged {
        product_no: r.product_no,
        seller_no: r.seller_no,
        name: r.name.clone(),
        description: r.description.clone(),
        price: r.price,
        version: r.version,
    }
}

pub struct CatalogApi {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
}

#[OpenApi(tag = "CatalogTag::Products")]
impl CatalogApi {
    /// Create a product for an active seller.
    ///
    /// With an `Idempotency-Key` (per seller), a repeat of the request is answered the product
    /// it created (200) and creates nothing; the key with another request is 422
    /// `IDEMPOTENCY_KEY_REUSED`. Writes count against `RATE_LIMIT_WRITES_PER_MIN` (429).
    #[oai(
        path = "/api/products",
        method = "post",
        operation_id = "create_product"
    )]
    async fn create_product(
        &self,
        identity: Identity,
        body: Json<CreateProduct>,
        /// Optional; the same key with the same request answers the same product.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Created, ApiError> {
        let p = body.0;
        auth::require_seller(&identity, p.seller_no.0)?;
        auth::limit_writes(&identity, None)?;
        let description = p.description.as_deref().unwrap_or_default();
        check_fields(Some(&p.name), Some(description), Some(p.price))?;
        check_currency(p.currency.as_deref())?;
        let product_no = self
            .ids
            .next_id()
            .map_err(|e| ApiError::internal_error(&e))?;
        let mut tx = self.outbox.begin(&self.pool).await?;
        if !store::is_seller_active(&mut tx, p.seller_no.0).await? {
            return Err(ApiError::unprocessable(
                "SELLER_NOT_ACTIVE",
                format!(
                    "seller {} does not exist or has not finished onboarding",
                    p.seller_no
                ),
            ));
        }
        let new = NewProduct {
            product_no,
            seller_no: p.seller_no.0,
            name: p.name.trim(),
            description,
            price: p.price,
        };
        let row = store::insert_product(&mut tx, &new).await?;
        if let Some(key) = service_kit::idempotency::checked_key(idempotency_key.0.as_deref())? {
            let request = serde_json::json!({
                "name": new.name,
                "description": new.description,
                "price": new.price.normalize().to_string(),
            });
            match creations::record(&mut tx, new.seller_no, key, &request, product_no).await? {
                Creation::New => {}
                Creation::Repeat(earlier) => {
                    // This request's product is rolled back with the transaction.
                    drop(tx);
                    return Ok(Created::Repeated(
                        self.get_product(Path(Id(earlier))).await?,
                    ));
                }
                Creation::Reused => {
                    return Err(ApiError::unprocessable(
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key created a product from another request",
                    ))
                }
            }
        }
        let event = Envelope::new(ProductCreated(changed(&row)));
        self.outbox.append(&mut tx, product_no, &event, &[]).await?;
        tx.commit().await?;
        Ok(Created::Created(Json(row.into())))
    }

    /// Change a product's name, description or price.
    #[oai(
        path = "/api/products/:productNo",
        method = "patch",
        operation_id = "update_product"
    )]
    async fn update_product(
        &self,
        identity: Identity,
        #[oai(name = "productNo")] product_no: Path<Id>,
        body: Json<UpdateProduct>,
    ) -> Result<Json<Product>, ApiError> {
        crate::access::require_owner(&self.pool, &identity, product_no.0 .0).await?;
        auth::limit_writes(&identity, None)?;
        let u = body.0;
        check_fields(u.name.as_deref(), u.description.as_deref(), u.price)?;
        if u.name.is_none() && u.description.is_none() && u.price.is_none() {
            // Nothing to change: no new version, no event.
            return self.get_product(product_no).await;
        }
        let mut tx = self.outbox.begin(&self.pool).await?;
        let name = u.name.as_deref().map(str::trim);
        let row = store::update_product(
            &mut tx,
            product_no.0 .0,
            name,
            u.description.as_deref(),
            u.price,
        )
        .await
        .map_err(|e| from_db_error(e, UPDATE_CONSTRAINTS))?
        .ok_or_else(|| not_found(product_no.0))?;
        let event = Envelope::new(ProductUpdated(changed(&row)));
        self.outbox
            .append(&mut tx, row.product_no, &event, &[])
            .await?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    /// One product.
    #[oai(
        path = "/api/products/:productNo",
        method = "get",
        operation_id = "get_product"
    )]
    async fn get_product(
        &self,
        #[oai(name = "productNo")] product_no: Path<Id>,
    ) -> Result<Json<Product>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let mut rows = store::find_products(&mut conn, &[product_no.0 .0]).await?;
        rows.pop()
            .map(|r| Json(r.into()))
            .ok_or_else(|| not_found(product_no.0))
    }

    /// Several products, in the requested order.
    ///
    /// Unknown numbers are listed in `missingProductNos`, never silently dropped.
    #[oai(path = "/api/products", method = "get", operation_id = "list_products")]
    async fn list_products(
        &self,
        /// Comma-separated product numbers, e.g. `1,2,3` (1–100 of them).
        #[oai(name = "productNoList", example = "crate::examples::product_no_list")]
        product_no_list: Query<String>,
    ) -> Result<Json<ProductList>, ApiError> {
        let wanted = parse_product_list(&product_no_list.0)?;
        let mut conn = self.pool.acquire().await?;
        let mut found: HashMap<i64, ProductRow> = store::find_products(&mut conn, &wanted)
            .await?
            .into_iter()
            .map(|r| (r.product_no, r))
            .collect();
        let mut list = ProductList {
            products: Vec::with_capacity(wanted.len()),
            missing_product_nos: Vec::new(),
        };
        for no in wanted {
            match found.get(&no) {
                Some(row) => list.products.push(row.clone().into()),
                None => list.missing_product_nos.push(Id(no)),
            }
        }
        found.clear();
        Ok(Json(list))
    }
}

fn not_found(product_no: Id) -> ApiError {
    ApiError::not_found("PRODUCT_NOT_FOUND", format!("no product {product_no}"))
}
