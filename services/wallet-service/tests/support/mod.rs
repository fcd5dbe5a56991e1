//! wallet-service alone in-process (its own database and NATS namespace), fed by publishing
//! envelopes to the namespace's streams as the producers' outbox relays would.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer};
use chrono::Utc;
use events::{
    topology, CanceledLine, Envelope, Event, PaidOrderLine, PaymentCanceled, PaymentConfirmed,
    SellerRegistered, StreamDef, Topology,
};
use rust_decimal::Decimal;
use serde_json::Value;
use service_kit::{testing, App};
use sqlx::PgPool;

pub const WAIT: Duration = Duration::from_secs(20);
/// What `testing::test_config` sets as `ADMIN_TOKEN`.
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Wallets {
    pub app: App,
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub topology: Topology,
    db_url: url::Url,
    http: reqwest::Client,
}

impl Wallets {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// With wallet-service variables set, e.g. `FEE_RATE_DEFAULT`, `SETTLEMENT_HOLD`.
    pub async fn start_with(vars: &[(&str, &str)]) -> Self {
        let namespace = testing::unique_namespace();
        let mut config = testing::test_config(&wallet_service::SPEC, &namespace);
        for (k, v) in vars {
            config.extra.insert(k.to_string(), v.to_string());
        }
        let db_url = config
            .database_url
            .clone()
            .expect("wallet-service has a database");
        let nats_url = config.nats_url.clone().expect("NATS_URL");
        let app = wallet_service::build(config)
            .await
            .expect("wallet-service starts");
        let pool = PgPool::connect(db_url.as_str()).await.expect("database");
        let client = async_nats::connect(nats_url).await.expect("NATS reachable");
        Self {
            app,
            pool,
            js: jetstream::new(client),
            topology: Topology::new(namespace),
            db_url,
            http: reqwest::Client::new(),
        }
    }

    /// Publishes with `Nats-Msg-Id` = `msg_id` (a replay uses a new one).
    pub async fn publish_as<E: Event>(&self, event: &Envelope<E>, msg_id: &str) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let body = serde_json::to_vec(event).expect("serializes");
        let ack = self
            .js
            .publish_with_headers(self.topology.subject(E::TYPE), headers, body.into())
            .await
            .expect("published")
            .await
            .expect("stored");
        assert!(!ack.duplicate, "{msg_id} dropped as a duplicate");
    }

    /// Publishes as an outbox relay does (`Nats-Msg-Id` = event id).
    pub async fn publish<E: Event>(&self, event: &Envelope<E>) {
        self.publish_as(event, &event.event_id.to_string()).await;
    }

    /// Waits until `sql` counts `n`. A consumer found idle may still have a delivery to
    /// retry (a NAK with a delay is neither pending nor awaiting its ack), so a count that an
    /// event still has to make is waited for, not read once.
    pub async fn expect_count(&self, sql: &str, n: i64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self.count(sql).await;
            if found == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sql}: {found}, never {n}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `consumer` has nothing pending or unacknowledged.
    pub async fn wait_idle(&self, stream: &StreamDef, consumer: &str) {
        let stream = self.topology.stream_name(stream);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let idle = async {
                let mut c: PullConsumer = self
                    .js
                    .get_consumer_from_stream(consumer, &stream)
                    .await
                    .ok()?;
                let info = c.info().await.ok()?;
                Some(info.num_pending == 0 && info.num_ack_pending == 0)
            };
            if idle.await == Some(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{consumer} never drained"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The envelopes of `event_type` in the namespace's `stream`, oldest first.
    pub async fn envelopes(&self, stream: &StreamDef, event_type: &str) -> Vec<Value> {
        let subject = self.topology.subject(event_type);
        let mut stream = self
            .js
            .get_stream(self.topology.stream_name(stream))
            .await
            .expect("stream");
        let state = stream.info().await.expect("info").state.clone();
        let mut out = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            match testing::stream_message(&stream, seq).await {
                Some(m) if m.subject.as_str() == subject => {
                    out.push(serde_json::from_slice(&m.payload).expect("json"))
                }
                _ => {}
            }
        }
        out
    }

    /// The event types in the namespace's `stream`, oldest first.
    pub async fn types(&self, stream: &StreamDef) -> Vec<String> {
        let mut stream = self
            .js
            .get_stream(self.topology.stream_name(stream))
            .await
            .expect("stream");
        let state = stream.info().await.expect("info").state.clone();
        let mut out = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            if let Some(m) = testing::stream_message(&stream, seq).await {
                out.push(self.topology.unqualified(m.subject.as_str()).to_string());
            }
        }
        out
    }

    /// `GET /api/wallets/sellers/{seller}`: status and body.
    pub async fn wallet(&self, seller_no: i64) -> (u16, Value) {
        let url = format!(
            "http://127.0.0.1:{}/api/wallets/sellers/{seller_no}",
            self.app.port()
        );
        let res = self.http.get(url).send().await.expect("GET wallet");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json"))
    }

    /// `GET` of a path of the service: status, content type and body text.
    pub async fn get_text(
        &self,
        path: &str,
        accept: &str,
        token: Option<&str>,
    ) -> (u16, String, String) {
        let mut req = self
            .http
            .get(format!("http://127.0.0.1:{}{path}", self.app.port()))
            .header("accept", accept);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("GET");
        let status = res.status().as_u16();
        let ctype = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, ctype, res.text().await.expect("body"))
    }

    /// `GET` as JSON (with the admin token when `admin`): status and body.
    pub async fn get_json(&self, path: &str, admin: bool) -> (u16, Value) {
        let token = admin.then_some(ADMIN_TOKEN);
        let (status, _, body) = self.get_text(path, "application/json", token).await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// `PUT` JSON with the admin token: status and body.
    pub async fn put_admin(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .put(format!("http://127.0.0.1:{}{path}", self.app.port()))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("PUT");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json"))
    }

    /// The ledger's invariants: every entry sums to 0, every account's balance is its
    /// postings (in its normal direction), and each wallet's balance is pending + available.
    pub async fn assert_ledger_sound(&self) {
        let unbalanced = self
            .count(
                "select count(*) from (select entry_id from ledger_postings group by entry_id
                  having sum(amount) <> 0) u",
            )
            .await;
        assert_eq!(unbalanced, 0, "unbalanced entries");
        let off: Vec<(i64, String, Decimal, Decimal)> = sqlx::query_as(
            "select a.id, a.kind, a.balance,
                    coalesce(sum(p.amount), 0) * ledger_normal_sign(a.kind)
               from ledger_account_balances a left join ledger_postings p on p.account_id = a.id
              group by a.id, a.kind, a.balance
             having a.balance <> coalesce(sum(p.amount), 0) * ledger_normal_sign(a.kind)",
        )
        .fetch_all(&self.pool)
        .await
        .expect("accounts");
        assert!(
            off.is_empty(),
            "balances differ from their postings: {off:?}"
        );
        let wallets: Vec<(i64, Decimal, Decimal)> = sqlx::query_as(
            "select w.seller_no, w.balance, coalesce((select sum(balance) from ledger_account_balances a
                     where a.seller_no = w.seller_no
                       and a.kind in ('SELLER_PENDING', 'SELLER_AVAILABLE')), 0)
               from wallet_balances w",
        )
        .fetch_all(&self.pool)
        .await
        .expect("wallets");
        for (seller, balance, ledger) in wallets {
            assert_eq!(
                balance, ledger,
                "seller {seller}: wallet balance ≠ pending + available"
            );
        }
        let total = self
            .count("select coalesce(sum(amount), 0)::bigint from ledger_postings")
            .await;
        assert_eq!(total, 0, "Σ postings");
    }

    /// The seller's balance of one account kind (0 if it has none).
    pub async fn account(&self, seller_no: Option<i64>, kind: &str) -> Decimal {
        sqlx::query_scalar(
            "select coalesce(sum(balance), 0)::numeric from ledger_account_balances
              where kind = $2 and seller_no is not distinct from $1",
        )
        .bind(seller_no)
        .bind(kind)
        .fetch_one(&self.pool)
        .await
        .expect("account")
    }

    pub async fn balance(&self, seller_no: i64) -> Option<Decimal> {
        sqlx::query_scalar("select balance from wallet_balances where seller_no = $1")
            .bind(seller_no)
            .fetch_optional(&self.pool)
            .await
            .expect("balance")
    }

    /// Waits for `orders` `wallet.settled` events and checks they name `orders` distinct orders:
    /// each order announced once.
    pub async fn expect_each_order_settled_once(&self, orders: usize) {
        let settled = self.wait_for("wallet.settled", orders).await;
        let mut ids: Vec<&str> = settled
            .iter()
            .filter_map(|e| e["payload"]["orderId"].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            (settled.len(), ids.len()),
            (orders, orders),
            "each order announced once: {ids:?}"
        );
    }

    /// Waits for `n` envelopes of `event_type` on WALLETS; returns them all.
    pub async fn wait_for(&self, event_type: &str, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = self.envelopes(&WALLETS, event_type).await;
            if all.len() >= n {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} × {event_type}: {}",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `seller_no`'s balance is `expected`.
    pub async fn expect_balance(&self, seller_no: i64, expected: Decimal) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.balance(seller_no).await;
            if now == Some(expected) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "seller {seller_no}: balance {now:?}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The ledger invariant: per seller, Σ CREDIT + Σ PAYOUT_RETURN − Σ REVERSAL − Σ DEBIT =
    /// balance.
    pub async fn assert_ledger_matches_balances(&self) {
        let off: Vec<(i64, Decimal, Decimal)> = sqlx::query_as(
            "select w.seller_no, w.balance, coalesce(sum(case when t.type in ('CREDIT', 'PAYOUT_RETURN') then t.amount
                 else -t.amount end), 0)
             from wallet_balances w left join wallet_transactions t on t.wallet_no = w.wallet_no
             group by w.seller_no, w.balance
             having w.balance <> coalesce(sum(case when t.type in ('CREDIT', 'PAYOUT_RETURN') then t.amount
                 else -t.amount end), 0)",
        )
        .fetch_all(&self.pool)
        .await
        .expect("ledger");
        assert!(off.is_empty(), "ledger and balance differ: {off:?}");
        self.assert_ledger_sound().await;
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub async fn register(&self, seller_no: i64) {
        self.publish(&Envelope::new(SellerRegistered {
            seller_no,
            seller_id: format!("seller-{seller_no}"),
        }))
        .await;
    }

    pub async fn stop(self) {
        self.pool.close().await;
        let _ = self.app.stop().await;
        let _ = service_kit::db::drop_database(&self.db_url).await;
    }
}

/// A paid order of `lines` (paymentOrderNo, sellerNo, amount).
pub fn confirmed(payment_event_no: i64, lines: &[(i64, i64, i64)]) -> Envelope<PaymentConfirmed> {
    let lines: Vec<PaidOrderLine> = lines
        .iter()
        .map(|&(no, seller_no, amount)| PaidOrderLine {
            payment_order_no: no,
            product_no: no % 100,
            seller_no,
            product_name: format!("상품{no}"),
            amount: Decimal::from(amount),
        })
        .collect();
    Envelope::new(PaymentConfirmed {
        payment_event_no,
        member_no: 7,
        order_id: format!("order-{payment_event_no}"),
        order_name: "상품".into(),
        payment_key: format!("pk-{payment_event_no}"),
        method: "카드".into(),
        approved_at: Utc::now(),
        total_amount: lines.iter().map(|l| l.amount).sum(),
        ordered_at: Utc::now(),
        lines,
    })
}

/// Cancel `cancel_no` of an order: `lines` are (paymentOrderNo, sellerNo, refunded, lineAmount).
pub fn canceled(
    payment_event_no: i64,
    cancel_no: i64,
    lines: &[(i64, i64, i64, i64)],
) -> Envelope<PaymentCanceled> {
    let lines: Vec<CanceledLine> = lines
        .iter()
        .map(|&(no, seller_no, amount, line_amount)| CanceledLine {
            payment_order_no: no,
            product_no: no % 100,
            seller_no,
            amount: Decimal::from(amount),
            line_amount: Decimal::from(line_amount),
        })
        .collect();
    let amount: Decimal = lines.iter().map(|l| l.amount).sum();
    Envelope::new(PaymentCanceled {
        payment_event_no,
        member_no: 7,
        order_id: format!("order-{payment_event_no}"),
        cancel_no,
        cancel_reason: "고객 변심".into(),
        cancel_amount: amount,
        refunded_total: amount,
        balance_amount: Decimal::ZERO,
        total_amount: amount,
        canceled_at: Utc::now(),
        status: "PARTIAL_CANCELED".into(),
        lines,
    })
}

pub const ORDERS: StreamDef = topology::ORDERS;
pub const WALLETS: StreamDef = topology::WALLETS;
pub const SELLERS: StreamDef = topology::SELLERS;
