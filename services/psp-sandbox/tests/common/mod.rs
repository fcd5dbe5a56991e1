//! Hosts a sandbox in-process on port 0 and talks to it over real HTTP, as order-service does.
//! Each sandbox gets a database of its own (`paymsa_psp_<namespace>`, from
//! `service_kit::testing::test_config`), dropped when the last sandbox on it is dropped.
#![allow(dead_code)] // each test binary uses a different subset

pub mod receiver;

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};
use service_kit::{
    testing::{test_config, unique_namespace},
    App, ServiceConfig,
};

pub const SECRET_KEY: &str = "test_sk_paymsa_sandbox";

pub struct Sandbox {
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
    pub config: ServiceConfig,
    database: Arc<TestDatabase>,
}

/// Drops the per-test database at the end of the test, as `TestSystem` does for the whole
/// system's: a full run would otherwise leave hundreds behind.
struct TestDatabase(url::Url);

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let url = self.0.clone();
        // Drop runs inside the test's runtime; the async work gets a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let _ = service_kit::db::drop_database(&url).await;
            });
        });
        let _ = dropped.join();
    }
}

/// A fresh sandbox; `vars` are service variables (`PSP_SECRET_KEY`, `SANDBOX_*`).
pub async fn start_with(vars: &[(&str, &str)]) -> Sandbox {
    let mut config = test_config(&psp_sandbox::SPEC, &unique_namespace());
    for (name, value) in vars {
        config.extra.insert(name.to_string(), value.to_string());
    }
    let url = config
        .database_url
        .clone()
        .expect("the sandbox has a database");
    serve(config, Arc::new(TestDatabase(url))).await
}

async fn serve(config: ServiceConfig, database: Arc<TestDatabase>) -> Sandbox {
    let app = psp_sandbox::build(config.clone())
        .await
        .expect("sandbox starts");
    Sandbox {
        base: format!("http://127.0.0.1:{}", app.port()),
        app,
        // Redirects are asserted, not followed.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        config,
        database,
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

    /// Stops this sandbox and starts a new process-equivalent on the same database: nothing
    /// in memory survives (faults, call counts), everything in the database must.
    pub async fn restart(self) -> Sandbox {
        let (config, database) = (self.config.clone(), self.database.clone());
        self.stop().await;
        serve(config, database).await
    }

    /// A Toss-authenticated GET.
    pub async fn toss_get(&self, path: &str) -> (u16, Value) {
        let request = self
            .client
            .get(self.url(path))
            .basic_auth(SECRET_KEY, None::<&str>);
        let (status, _, value) = self.send(request).await;
        (status, value)
    }

    /// A cancel request with Toss authentication and any body, ready for more headers.
    pub fn cancel_body(&self, payment_key: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(&format!("/v1/payments/{payment_key}/cancel")))
            .basic_auth(SECRET_KEY, None::<&str>)
            .json(body)
    }

    /// Cancels `amount` (None: the whole balance) with an Idempotency-Key.
    pub fn cancel(
        &self,
        payment_key: &str,
        amount: Option<i64>,
        idempotency_key: &str,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({"cancelReason": "고객 변심"});
        if let Some(amount) = amount {
            body["cancelAmount"] = json!(amount);
        }
        self.cancel_body(payment_key, &body)
            .header("Idempotency-Key", idempotency_key)
    }

    /// `POST /v2/payouts` with Toss authentication and an Idempotency-Key.
    pub fn payouts(&self, idempotency_key: &str, items: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/v2/payouts"))
            .basic_auth(SECRET_KEY, None::<&str>)
            .header("Idempotency-Key", idempotency_key)
            .json(items)
    }

    /// Polls a Toss-authenticated GET until `done` holds for its body (or `secs` pass).
    pub async fn toss_get_until(
        &self,
        path: &str,
        secs: u64,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, value) = self.toss_get(path).await;
            assert_eq!(status, 200, "GET {path}: {value}");
            if done(&value) || tokio::time::Instant::now() > deadline {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /sandbox/webhooks/deliveries` → the deliveries, newest first.
    pub async fn deliveries(&self) -> Vec<Value> {
        let value = self
            .get_json("/sandbox/webhooks/deliveries?limit=1000")
            .await;
        value["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// A fresh order approved and confirmed for `amount`: `(orderId, paymentKey)`.
    pub async fn paid(&self, amount: i64) -> (String, String) {
        let (order, key) = self.approved(amount).await;
        let (status, _, paid) = self.send(self.confirm(&key, &order, amount)).await;
        assert_eq!(status, 200, "{paid}");
        (order, key)
    }
}
