//! HTTP answers read whole: status, content type and the body as JSON.

use serde_json::Value;

/// An answer, read to the end.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The `content-type` header, empty when absent.
    pub content_type: String,
    /// The body as JSON: `Null` when empty, a JSON string holding the text when it is not JSON.
    pub body: Value,
}

impl Answer {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self {
            status,
            content_type,
            body,
        }
    }
}

/// Sends `req` and reads the answer.
pub async fn call(req: reqwest::RequestBuilder) -> Answer {
    Answer::read(req.send().await.expect("request answered")).await
}

/// Sends `req`; `(status, body)` as in [`Answer`].
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let answer = call(req).await;
    (answer.status, answer.body)
}

/// POSTs `body` as it is (often not JSON at all) with `content-type: application/json`.
pub async fn post_raw_json(http: &reqwest::Client, url: &str, body: &str) -> reqwest::Response {
    http.post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("answered")
}

/// The Prometheus text a service (or any instance at `base`) serves at `/metrics`.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics answered")
        .text()
        .await
        .expect("metrics text")
}
