//! Hosts a sandbox in-process on port 0 and talks to it over real HTTP, as order-service does.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use serde_json::{json, Value};
use service_kit::{
    testing::{test_config, unique_namespace},
    App,
};

pub const SECRET_KEY: &str = "test_sk_paymsa_sandbox";

pub struct Sandbox {
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
}

/// A fresh sandbox; `vars` are service variables (`PSP_SECRET_KEY`, `SANDBOX_*`).
pub async fn start_with(vars: &[(&str, &str)]) -> Sandbox {
    let mut config = test_config(&psp_sandbox::SPEC, &unique_namespace());
    for (name, value) in vars {
        config.extra.insert(name.to_string(), value.to_string());
    }
    let app = psp_sandbox::build(config).await.expect("sandbox starts");
    Sandbox {
        base: format!("http://127.0.0.1:{}", app.port()),
        app,
        // Redirects are asserted, not followed.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    }
}

pub async fn start() -> Sandbox {
    start_with(&[]).await
}

/// Toss orderIds: 6–64 of [A-Za-z0-9_-=]; unique per call so tests never share orders.
pub fn order_id() -> String {
    format!("order-{}", &unique_namespace()[1..])
}

pub async fn body(resp: reqwest::Response) -> (u16, String, Value) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, content_type, value)
}

impl Sandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /sandbox/approvals` → the paymentKey.
    pub async fn approve(&self, order_id: &str, amount: i64) -> String {
        let resp = self
            .client
            .post(self.url("/sandbox/approvals"))
            .json(&json!({"orderId": order_id, "amount": amount, "orderName": "상품A 외 1건"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 201, "approval created");
        let created: Value = resp.json().await.expect("json");
        created["paymentKey"]
            .as_str()
            .expect("paymentKey")
            .to_string()
    }

    /// A fresh order approved for `amount`: `(orderId, paymentKey)`.
    pub async fn approved(&self, amount: i64) -> (String, String) {
        let order = order_id();
        let key = self.approve(&order, amount).await;
        (order, key)
    }

    /// A confirm request with Toss authentication and any body.
    pub fn confirm_body(&self, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/v1/payments/confirm"))
            .basic_auth(SECRET_KEY, None::<&str>)
            .json(body)
    }

    /// A confirm request with Toss authentication, ready for more headers.
    pub fn confirm(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: i64,
    ) -> reqwest::RequestBuilder {
        self.confirm_body(
            &json!({"paymentKey": payment_key, "orderId": order_id, "amount": amount}),
        )
    }

    /// [`Sandbox::confirm`] with an `Idempotency-Key`.
    pub fn confirm_keyed(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> reqwest::RequestBuilder {
        self.confirm(payment_key, order_id, amount)
            .header("Idempotency-Key", idempotency_key)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, String, Value) {
        body(request.send().await.expect("sent")).await
    }

    pub async fn payment_by_order(&self, order_id: &str) -> (u16, Value) {
        let request = self
            .client
            .get(self.url(&format!("/v1/payments/orders/{order_id}")))
            .basic_auth(SECRET_KEY, None::<&str>);
        let (status, _, value) = self.send(request).await;
        (status, value)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let (status, _, value) = self.send(self.client.get(self.url(path))).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    pub async fn put_json(&self, path: &str, payload: Value) -> (u16, Value) {
        let (status, _, value) = self
            .send(self.client.put(self.url(path)).json(&payload))
            .await;
        (status, value)
    }

    pub async fn order_stats(&self, order_id: &str) -> Value {
        self.get_json(&format!("/sandbox/stats/orders/{order_id}"))
            .await
    }

    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(10), self.app.stop())
            .await
            .expect("stops in time")
            .expect("clean stop");
    }
}
