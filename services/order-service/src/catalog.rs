//! Prices and sellers come from catalog-service at checkout, never from the client.

use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogProduct {
    #[serde(with = "events::ids::string")]
    pub product_no: i64,
    #[serde(with = "events::ids::string")]
    pub seller_no: i64,
    pub name: String,
    pub price: Decimal,
    /// The catalog row's version: [`crate::prices`] keeps the newest it has seen.
    pub version: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductList {
    products: Vec<CatalogProduct>,
    missing_product_nos: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown products: {0:?}")]
    Missing(Vec<String>),
    #[error("catalog-service unavailable")]
    Unavailable(#[source] reqwest::Error),
    #[error("catalog-service answered HTTP {0}")]
    Status(reqwest::StatusCode),
}

#[derive(Clone)]
pub struct CatalogClient {
    http: reqwest::Client,
    base_url: String,
}

impl CatalogClient {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    /// The products in the requested order; any unknown number fails the whole checkout.
    pub async fn products(&self, product_nos: &[i64]) -> Result<Vec<CatalogProduct>, CatalogError> {
        let list = product_nos
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let resp = self
            .http
            .get(format!("{}/api/products", self.base_url))
            .query(&[("productNoList", list)])
            // The checkout's trace continues into catalog-service.
            .header(
                service_kit::trace::TRACEPARENT,
                service_kit::TraceContext::current_or_new().traceparent(),
            )
            .send()
            .await
            .map_err(CatalogError::Unavailable)?;
        if !resp.status().is_success() {
            return Err(CatalogError::Status(resp.status()));
        }
        let list: ProductList = resp.json().await.map_err(CatalogError::Unavailable)?;
        if !list.missing_product_nos.is_empty() {
            return Err(CatalogError::Missing(list.missing_product_nos));
        }
        Ok(list.products)
    }
}
