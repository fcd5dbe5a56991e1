//! The storefront's calls to the other services, server-side (they allow no CORS). Answers are
//! read as JSON values: the pages show a few fields and pass the rest by. The visitor's token
//! (jwt mode) is forwarded as `Authorization: Bearer`, so each service applies its own rules;
//! a refusal comes back as the service's problem `detail`.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::Value;

/// Where the storefront finds the services it shows (settings `*_URL`, docs/configuration.md).
#[derive(Debug, Clone)]
pub struct BackendUrls {
    pub catalog: String,
    pub hot_catalog: String,
    pub likes: String,
    pub reviews: String,
    pub order_query: String,
    pub wallet: String,
}

#[derive(Clone)]
pub struct Backends {
    http: reqwest::Client,
    pub urls: BackendUrls,
}

/// A call that did not answer 2xx: what to show (the problem's `detail`, or the status).
#[derive(Debug)]
pub struct Failed {
    pub detail: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl Backends {
    pub fn new(urls: BackendUrls, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self { http, urls })
    }

    fn request(&self, method: Method, url: String, bearer: Option<&str>) -> RequestBuilder {
        let mut request = self.http.request(method, url).header(
            service_kit::trace::TRACEPARENT,
            service_kit::TraceContext::current_or_new().traceparent(),
        );
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send(request: RequestBuilder) -> Result<Value, Failed> {
        let response = request.send().await.map_err(|e| Failed {
            detail: format!("service unavailable: {e}"),
        })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let detail = body["detail"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(Failed { detail })
    }

    pub async fn get(&self, url: String, bearer: Option<&str>) -> Result<Value, Failed> {
        Self::send(self.request(Method::GET, url, bearer)).await
    }

    pub async fn post(
        &self,
        url: String,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, Failed> {
        let mut request = self.request(Method::POST, url, bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::send(request).await
    }

    pub async fn hot_products(&self, limit: u32) -> Result<Value, Failed> {
        let url = format!("{}/api/hot-products?limit={limit}", self.urls.hot_catalog);
        self.get(url, None).await
    }

    pub async fn catalog_page(&self, after: i64) -> Result<Value, Failed> {
        let url = format!(
            "{}/api/product-listing?limit=50&afterProductNo={after}",
            self.urls.catalog
        );
        self.get(url, None).await
    }

    pub async fn product(&self, product_no: i64) -> Result<Value, Failed> {
        let url = format!("{}/api/products/{product_no}", self.urls.catalog);
        self.get(url, None).await
    }

    pub async fn like_count(&self, product_no: i64) -> Result<Value, Failed> {
        let url = format!(
            "{}/api/catalog-likes/products/{product_no}",
            self.urls.likes
        );
        self.get(url, None).await
    }

    pub async fn reviews(&self, product_no: i64) -> Result<Value, Failed> {
        let url = format!(
            "{}/api/product-reviews/products/{product_no}?limit=20",
            self.urls.reviews
        );
        self.get(url, None).await
    }

    pub async fn like(
        &self,
        product_no: i64,
        member_no: i64,
        bearer: Option<&str>,
    ) -> Result<Value, Failed> {
        let url = format!(
            "{}/api/catalog-likes/products/{product_no}/members/{member_no}",
            self.urls.likes
        );
        self.post(url, bearer, None).await
    }

    pub async fn review(&self, body: Value, bearer: Option<&str>) -> Result<Value, Failed> {
        let url = format!("{}/api/product-reviews", self.urls.reviews);
        self.post(url, bearer, Some(body)).await
    }

    pub async fn member_orders(
        &self,
        member_no: i64,
        bearer: Option<&str>,
    ) -> Result<Value, Failed> {
        let url = format!(
            "{}/api/orders/members/{member_no}?limit=50",
            self.urls.order_query
        );
        self.get(url, bearer).await
    }

    pub async fn seller_wallet(
        &self,
        seller_no: i64,
        bearer: Option<&str>,
    ) -> Result<Value, Failed> {
        let url = format!("{}/api/wallets/sellers/{seller_no}", self.urls.wallet);
        self.get(url, bearer).await
    }
}

/// A JSON field as text: strings as they are, numbers and the rest as JSON, null as "".
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A decimal money field (a string on the wire) without trailing zeros.
pub fn money(v: &Value) -> String {
    text(v)
        .parse::<rust_decimal::Decimal>()
        .map(super::won)
        .unwrap_or_else(|_| text(v))
}
