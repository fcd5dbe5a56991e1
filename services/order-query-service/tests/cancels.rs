//! `order.payment.canceled` in the read model, against real Postgres and NATS: the order view
//! shows each cancel, the refunded amount and PARTIAL_CANCELED / CANCELED; a cancel counts once
//! per `cancelNo` however often it arrives; a cancel projected before its order is not lost.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer};
use chrono::{TimeDelta, Utc};
use events::{
    CanceledLine, Envelope, Event, PaidOrderLine, PaymentCanceled, PaymentConfirmed, Topology,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use service_kit::{testing, App};

const WAIT: Duration = Duration::from_secs(20);
const MEMBER: i64 = 7;

struct OrderQuery {
    app: App,
    js: jetstream::Context,
    topology: Topology,
    db_url: url::Url,
    http: reqwest::Client,
}

impl OrderQuery {
    async fn start() -> Self {
        let namespace = testing::unique_namespace();
        let config = testing::test_config(&order_query_service::SPEC, &namespace);
        let db_url = config.database_url.clone().expect("database");
        let nats = async_nats::connect(config.nats_url.clone().expect("NATS_URL"))
            .await
            .expect("NATS reachable");
        let app = order_query_service::build(config).await.expect("starts");
        Self {
            app,
            js: jetstream::new(nats),
            topology: Topology::new(namespace),
            db_url,
            http: reqwest::Client::new(),
        }
    }

    async fn publish<E: Event>(&self, event: &Envelope<E>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.event_id.to_string().as_str());
        let body = serde_json::to_vec(event).expect("serializes");
        let ack = self
            .js
            .publish_with_headers(self.topology.subject(E::TYPE), headers, body.into())
            .await
            .expect("published")
            .await
            .expect("stored");
        assert!(!ack.duplicate);
    }

    async fn wait_idle(&self) {
        let stream = self.topology.stream_name(&events::topology::ORDERS);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let idle = async {
                let mut c: PullConsumer = self
                    .js
                    .get_consumer_from_stream("order-query-projection", &stream)
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
                "projection never drained"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn order(&self, payment_event_no: i64) -> (u16, Value) {
        let url = format!(
            "http://127.0.0.1:{}/api/orders/payment-events/{payment_event_no}/members/{MEMBER}",
            self.app.port()
        );
        let res = self.http.get(url).send().await.expect("GET order");
        (res.status().as_u16(), res.json().await.expect("json"))
    }

    async fn first_page(&self) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/api/orders/members/{MEMBER}",
            self.app.port()
        );
        let res = self.http.get(url).send().await.expect("GET page");
        res.json().await.expect("json")
    }

    async fn stop(self) {
        let _ = self.app.stop().await;
        let _ = service_kit::db::drop_database(&self.db_url).await;
    }
}

/// Order `no` with lines 1 (1000) and 2 (2000) of seller 1.
fn confirmed(no: i64) -> Envelope<PaymentConfirmed> {
    let line = |n: i64, amount: i64| PaidOrderLine {
        payment_order_no: no * 10 + n,
        product_no: n,
        seller_no: 1,
        product_name: format!("상품{n}"),
        amount: Decimal::from(amount),
    };
    Envelope::new(PaymentConfirmed {
        payment_event_no: no,
        member_no: MEMBER,
        order_id: format!("order-{no}"),
        order_name: "상품1 외 1건".into(),
        payment_key: format!("pk-{no}"),
        method: "카드".into(),
        approved_at: Utc::now(),
        total_amount: Decimal::from(3000),
        ordered_at: Utc::now() - TimeDelta::seconds(5),
        lines: vec![line(1, 1000), line(2, 2000)],
    })
}

/// Cancel `cancel_no` of order `no`: `lines` are (line 1 or 2, refunded); `refunded` so far.
fn canceled(
    no: i64,
    cancel_no: i64,
    lines: &[(i64, i64)],
    refunded: i64,
) -> Envelope<PaymentCanceled> {
    let lines: Vec<CanceledLine> = lines
        .iter()
        .map(|&(n, amount)| CanceledLine {
            payment_order_no: no * 10 + n,
            product_no: n,
            seller_no: 1,
            amount: Decimal::from(amount),
            line_amount: Decimal::from(n * 1000),
        })
        .collect();
    let amount: Decimal = lines.iter().map(|l| l.amount).sum();
    Envelope::new(PaymentCanceled {
        payment_event_no: no,
        member_no: MEMBER,
        order_id: format!("order-{no}"),
        cancel_no,
        cancel_reason: format!("reason {cancel_no}"),
        cancel_amount: amount,
        refunded_total: Decimal::from(refunded),
        balance_amount: Decimal::from(3000 - refunded),
        total_amount: Decimal::from(3000),
        canceled_at: Utc::now(),
        status: if refunded == 3000 {
            "CANCELED"
        } else {
            "PARTIAL_CANCELED"
        }
        .into(),
        lines,
    })
}

#[tokio::test]
async fn cancels_show_on_the_order_once_each_with_the_refunded_amount() {
    let q = OrderQuery::start().await;
    q.publish(&confirmed(100)).await;
    // Line 1 fully, then 500 of line 2; the first cancel arrives twice (a re-emission).
    q.publish(&canceled(100, 1, &[(1, 1000)], 1000)).await;
    q.publish(&canceled(100, 1, &[(1, 1000)], 1000)).await;
    q.publish(&canceled(100, 2, &[(2, 500)], 1500)).await;
    q.wait_idle().await;
    let (status, order) = q.order(100).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "PARTIAL_CANCELED", "{order}");
    assert_eq!(order["refundedAmount"], "1500");
    let cancels = order["cancels"].as_array().expect("cancels");
    assert_eq!(cancels.len(), 2, "{order}");
    assert_eq!(
        (
            &cancels[0]["cancelNo"],
            &cancels[0]["amount"],
            &cancels[0]["reason"]
        ),
        (&json!("1"), &json!("1000"), &json!("reason 1"))
    );
    assert!(cancels[0]["canceledAt"].is_string());
    assert_eq!(
        cancels[1]["lines"],
        json!([{"paymentOrderNo": "1002", "productNo": "2", "sellerNo": "1", "amount": "500"}])
    );

    // The rest of line 2: CANCELED, also on the member's page.
    q.publish(&canceled(100, 3, &[(2, 1500)], 3000)).await;
    q.wait_idle().await;
    let page = q.first_page().await;
    let listed = &page["orders"][0];
    assert_eq!(
        (&listed["status"], &listed["refundedAmount"]),
        (&json!("CANCELED"), &json!("3000")),
        "{page}"
    );
    assert_eq!(listed["cancels"].as_array().map(Vec::len), Some(3));
    q.stop().await;
}

#[tokio::test]
async fn a_cancel_before_its_order_is_kept_until_the_order_arrives() {
    let q = OrderQuery::start().await;
    q.publish(&canceled(200, 7, &[(2, 2000)], 2000)).await;
    q.wait_idle().await;
    assert_eq!(q.order(200).await.0, 404, "no view without the order");
    q.publish(&confirmed(200)).await;
    q.wait_idle().await;
    let (status, order) = q.order(200).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(
        (&order["status"], &order["refundedAmount"]),
        (&json!("PARTIAL_CANCELED"), &json!("2000")),
        "{order}"
    );
    assert_eq!(order["cancels"][0]["cancelNo"], "7");
    assert_eq!(order["lines"].as_array().map(Vec::len), Some(2));
    q.stop().await;
}
