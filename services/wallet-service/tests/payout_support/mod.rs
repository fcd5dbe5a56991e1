//! wallet-service with the PSP sandbox beside it (both in-process, each with its own
//! database), for the payout tests.

#![allow(dead_code)]

use std::time::Duration;

use chrono::{FixedOffset, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use service_kit::{testing, App};

use crate::support::{confirmed, Wallets, ADMIN_TOKEN, WAIT};

pub fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

/// Now (+ `offset_secs`) as the PSP writes a transmission time: `2024-09-05T12:19:21+09:00`.
pub fn kst_now(offset_secs: i64) -> String {
    let kst = FixedOffset::east_opt(9 * 3600).unwrap_or(FixedOffset::east_opt(0).expect("utc"));
    (Utc::now() + chrono::Duration::seconds(offset_secs))
        .with_timezone(&kst)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

const SECRET: &str = "sandbox_webhook_secret";
const PSP_AUTH: &str = "Basic dGVzdF9za19zYW5kYm94Og=="; // test_sk_sandbox:

pub struct Stack {
    pub w: Wallets,
    psp: App,
    psp_db: url::Url,
    http: reqwest::Client,
}

impl Stack {
    /// The sandbox settles payouts after 300 ms; wallet-service releases sales at once.
    pub async fn start(vars: &[(&str, &str)]) -> Self {
        Self::start_with(&[], vars).await
    }

    /// [`Stack::start`] with `sandbox_vars` over the sandbox's settings.
    pub async fn start_with(sandbox_vars: &[(&str, &str)], vars: &[(&str, &str)]) -> Self {
        let mut config = testing::test_config(&psp_sandbox::SPEC, &testing::unique_namespace());
        let defaults = [
            ("SANDBOX_PAYOUT_DELAY_MS", "300"),
            ("SANDBOX_WEBHOOK_RETRY_MS", "200"),
        ];
        for (k, v) in defaults.iter().chain(sandbox_vars) {
            config.extra.insert((*k).into(), (*v).into());
        }
        let psp_db = config
            .database_url
            .clone()
            .expect("the sandbox has a database");
        let psp = psp_sandbox::build(config)
            .await
            .expect("the sandbox starts");
        let psp_url = format!("http://127.0.0.1:{}", psp.port());
        let mut all: Vec<(&str, &str)> = vec![("SETTLEMENT_HOLD", "0s"), ("PSP_URL", &psp_url)];
        all.extend_from_slice(vars);
        let w = Wallets::start_with(&all).await;
        Self {
            w,
            psp,
            psp_db,
            http: reqwest::Client::new(),
        }
    }

    fn wallet_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.w.app.port())
    }

    fn psp_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.psp.port())
    }

    async fn json(res: reqwest::Response) -> (u16, Value) {
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn sandbox_put(&self, path: &str, body: Value) {
        let res = self.http.put(self.psp_url(path)).json(&body).send().await;
        let (status, body) = Self::json(res.expect("PUT sandbox")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }

    pub async fn webhooks_to_wallet(&self) {
        let url = self.wallet_url("/webhooks/toss");
        self.sandbox_put("/sandbox/webhooks", json!({ "urls": [url] }))
            .await;
    }

    /// Registers the seller and credits one released sale of `amount`.
    pub async fn fund(&self, seller_no: i64, event_no: i64, amount: i64) {
        self.w.register(seller_no).await;
        self.w.expect_balance(seller_no, Decimal::ZERO).await;
        self.w
            .publish(&confirmed(
                event_no,
                &[(event_no * 10 + 1, seller_no, amount)],
            ))
            .await;
        self.expect_wallet(seller_no, amount, 0, 0).await;
    }

    pub async fn payout(&self, seller_no: i64, body: Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.wallet_url(&format!("/api/wallets/sellers/{seller_no}/payouts")))
            .json(&body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        Self::json(req.send().await.expect("POST payout")).await
    }

    pub async fn wait_status(&self, seller_no: i64, no: &str, status: &str) -> Value {
        let path = format!("/api/wallets/sellers/{seller_no}/payouts/{no}");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, p) = self.w.get_json(&path, false).await;
            if p["status"] == status {
                return p;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never {status}: {p}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the wallet shows these available / inTransit / paidOut amounts.
    pub async fn expect_wallet(
        &self,
        seller_no: i64,
        available: i64,
        in_transit: i64,
        paid_out: i64,
    ) {
        let want = (d(available), d(in_transit), d(paid_out));
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (_, w) = self.w.wallet(seller_no).await;
            let num = |k: &str| w[k].as_str().and_then(|v| v.parse::<Decimal>().ok());
            let got = (num("available"), num("inTransit"), num("paidOut"));
            if got == (Some(want.0), Some(want.1), Some(want.2)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "wallet {w}, want {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The kinds of the payout's ledger entries, in order.
    pub async fn entries_of(&self, no: &str) -> Vec<String> {
        let no: i64 = no.parse().expect("a payoutNo");
        sqlx::query_scalar("select kind from ledger_entries where payout_no = $1 order by id")
            .bind(no)
            .fetch_all(&self.w.pool)
            .await
            .expect("entries")
    }

    /// The ledger's invariants, the trial balance, and — unless `paid_out` is negative — the
    /// money at the PSP: PSP_CLEARING − SELLER_PAID_OUT = charged − paid out.
    pub async fn assert_sound(&self, charged: i64, paid_out: i64) {
        self.w.assert_ledger_matches_balances().await;
        let (status, tb) = self.w.get_json("/admin/ledger/trial-balance", true).await;
        assert_eq!((status, &tb["balanced"]), (200, &json!(true)), "{tb}");
        let completed = self
            .w
            .count(
                "select coalesce(sum(amount), 0)::bigint from payouts where status = 'COMPLETED'",
            )
            .await;
        let paid: Decimal = sqlx::query_scalar(
            "select coalesce(sum(balance), 0)::numeric from ledger_accounts where kind = 'SELLER_PAID_OUT'",
        )
        .fetch_one(&self.w.pool)
        .await
        .expect("paid out");
        assert_eq!(paid, d(completed), "SELLER_PAID_OUT = Σ completed payouts");
        if paid_out >= 0 {
            let clearing = self.w.account(None, "PSP_CLEARING").await;
            assert_eq!(paid, d(paid_out));
            assert_eq!(clearing - paid, d(charged - paid_out), "money at the PSP");
        }
    }

    /// Waits until the sandbox has settled the payout with `status`, and writes the
    /// `payout.changed` body it sends for it.
    pub async fn settled_event(&self, no: &str, status: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let res = self
                .http
                .get(self.psp_url("/v2/payouts"))
                .query(&[("refPayoutId", no)])
                .header("Authorization", PSP_AUTH)
                .send()
                .await
                .expect("GET /v2/payouts");
            let (_, body) = Self::json(res).await;
            let item = &body["entityBody"]["items"][0];
            if item["status"] == status {
                let created = Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
                return json!({"eventType": "payout.changed", "createdAt": created, "data": item})
                    .to_string();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the PSP never settled {no}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many payouts the PSP has under this refPayoutId.
    pub async fn sandbox_payouts(&self, no: &str) -> usize {
        let res = self
            .http
            .get(self.psp_url("/v2/payouts"))
            .query(&[("refPayoutId", no)])
            .header("Authorization", PSP_AUTH)
            .send()
            .await
            .expect("GET /v2/payouts");
        let (_, body) = Self::json(res).await;
        body["entityBody"]["items"].as_array().map_or(0, Vec::len)
    }

    /// wallet-service's payout paths on the stack's database and sandbox, for a test that
    /// drives one itself (with a payout row it read earlier, say).
    pub fn payout_paths(&self) -> wallet_service::payouts::Payouts {
        use std::{sync::Arc, time::Duration};
        use wallet_service::payouts::{
            psp::PspPayouts,
            settings::{PayoutSettings, Schedule},
        };
        let settings = PayoutSettings {
            psp_url: self.psp_url(""),
            psp_secret_key: "test_sk_sandbox".into(),
            psp_timeout: Duration::from_secs(5),
            webhook_secret: SECRET.into(),
            recovery_interval: Duration::from_millis(100),
            lookup_after: Duration::from_millis(100),
            max_backoff: Duration::from_secs(60),
            schedule: Schedule::Off,
        };
        let counter = |name: &str| prometheus::IntCounter::new(name, "test").expect("a counter");
        let psp = PspPayouts::new(
            &settings.psp_url,
            &settings.psp_secret_key,
            settings.psp_timeout,
            counter("psp_credential_errors_total"),
        )
        .expect("the PSP client");
        wallet_service::payouts::Payouts {
            pool: self.w.pool.clone(),
            ids: Arc::new(snowflake::Snowflake::new(999).expect("a node id")),
            psp,
            settings: Arc::new(settings),
            unresolved: prometheus::IntGauge::new("payouts_unresolved", "test").expect("a gauge"),
        }
    }

    /// The PSP loses its record of the payout, and of the replies it stored for its keys: a
    /// lookup finds nothing, and a repeat is not answered from the key.
    pub async fn psp_forgets(&self, no: &str) {
        let db = sqlx::PgPool::connect(self.psp_db.as_str())
            .await
            .expect("the sandbox's database");
        let gone = sqlx::query("delete from payouts where ref_payout_id = $1")
            .bind(no)
            .execute(&db)
            .await
            .expect("the payout forgotten")
            .rows_affected();
        assert_eq!(gone, 1, "the PSP had payout {no}");
        sqlx::query("delete from payout_idempotency_keys")
            .execute(&db)
            .await
            .expect("the keys forgotten");
        db.close().await;
    }

    /// `v1:…` over the body and time with `secret` ("" = the sandbox's default key).
    pub fn sign(&self, body: &str, time: &str, secret: &str) -> String {
        let secret = if secret.is_empty() { SECRET } else { secret };
        wallet_service::payouts::signature::sign(secret, body.as_bytes(), time)
    }

    pub async fn webhook(&self, body: &str, signature: Option<&str>, time: &str) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.wallet_url("/webhooks/toss"))
            .header("content-type", "application/json")
            .header("tosspayments-webhook-transmission-time", time)
            .body(body.to_string());
        if let Some(sig) = signature {
            req = req.header("tosspayments-webhook-signature", sig);
        }
        Self::json(req.send().await.expect("POST webhook")).await
    }

    pub async fn admin_lookup(&self, no: &str) -> Value {
        let res = self
            .http
            .post(self.wallet_url(&format!("/admin/payouts/{no}/lookup")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("POST lookup");
        let (status, body) = Self::json(res).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn stop(self) {
        self.w.stop().await;
        let _ = self.psp.stop().await;
        let _ = service_kit::db::drop_database(&self.psp_db).await;
    }
}
