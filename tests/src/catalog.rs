//! catalog-service's product API, as a client calls it.

use serde_json::Value;

use crate::TestSystem;

/// Requests to catalog-service's `/api/products`.
pub struct Catalog<'a> {
    system: &'a TestSystem,
    base: String,
}

impl<'a> Catalog<'a> {
    pub fn new(system: &'a TestSystem) -> Self {
        Self {
            base: system.url("catalog-service"),
            system,
        }
    }

    /// `POST /api/products`.
    pub async fn create(&self, body: &Value) -> reqwest::Response {
        self.system
            .http
            .post(format!("{}/api/products", self.base))
            .json(body)
            .send()
            .await
            .expect("catalog answered")
    }

    /// [`Catalog::create`] that must answer 201; the product.
    pub async fn create_ok(&self, body: &Value) -> Value {
        let resp = self.create(body).await;
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, 201, "creating {body}: {text}");
        serde_json::from_str(&text).expect("JSON body")
    }

    /// `PATCH /api/products/{product_no}`.
    pub async fn patch(&self, product_no: &str, body: &Value) -> reqwest::Response {
        self.system
            .http
            .patch(format!("{}/api/products/{product_no}", self.base))
            .json(body)
            .send()
            .await
            .expect("catalog answered")
    }

    /// `GET` of a path (and query) of catalog-service.
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.system
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("catalog answered")
    }

    /// [`Catalog::get`] that must answer 200; the body.
    pub async fn get_ok(&self, path_and_query: &str) -> Value {
        let resp = self.get(path_and_query).await;
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, 200, "GET {path_and_query}: {text}");
        serde_json::from_str(&text).expect("JSON body")
    }
}
