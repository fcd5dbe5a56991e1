//! The HTTP connection to the PSP (the Toss Payments API, or psp-sandbox which speaks it): one
//! client with timeouts and Toss's authentication (`Basic base64(secretKey + ":")`), shared by
//! order-service's payments (services/order-service/src/psp/) and wallet-service's payouts
//! (services/wallet-service/src/payouts/psp.rs), so both talk to the PSP the same way.

use std::time::Duration;

use base64::Engine;

#[derive(Clone)]
pub struct PspConnection {
    http: reqwest::Client,
    base_url: String,
    authorization: String,
}

impl PspConnection {
    /// `timeout` bounds a whole call; connecting gets at most 2 s of it.
    pub fn new(
        base_url: &str,
        secret_key: &str,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2).min(timeout))
            .build()?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"));
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            authorization: format!("Basic {token}"),
        })
    }

    /// `GET {base}{path}`, authenticated.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base_url))
            .header("Authorization", &self.authorization)
    }

    /// `POST {base}{path}`, authenticated.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base_url))
            .header("Authorization", &self.authorization)
    }
}
