//! Dead-letter replay across the real services (issue 14): a paid order dead-lettered by
//! order-query's projection while hot-catalog-orders and wallet-settlement, the subject's other
//! consumers, took it. The replay runs in order-query-service through its projection's handler
//! only: nothing is published to ORDERS, the other consumers see nothing.

use events::topology::ORDERS;
use paymsa_e2e::{
    order_history::{get, SERVICE, WAIT},
    outage::{end_projection_outage, projection_dead_letter},
    streams::Bus,
    TestSystem,
};
use serde_json::Value;

const ADMIN_TOKEN: &str = "test-admin-token";

/// Messages a consumer of `service` has handled, every outcome (its `/metrics`).
async fn handled(system: &TestSystem, service: &str, consumer: &str) -> f64 {
    let text = system
        .http
        .get(format!("{}/metrics", system.url(service)))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let series = format!("paymsa_consumer_messages_total{{consumer=\"{consumer}\"");
    text.lines()
        .filter(|l| l.starts_with(&series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn replay(system: &TestSystem, id: i64) -> (u16, Value) {
    let response = system
        .http
        .post(format!(
            "{}/admin/dead-letters/{id}/replay",
            system.url(SERVICE)
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("replay answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_replay_runs_only_the_failed_consumer_and_publishes_nothing() {
    // The subject's three consumers; the order is published, not paid.
    let system = TestSystem::start_only(&[SERVICE, "hot-catalog-service", "wallet-service"]).await;
    let bus = Bus::connect(&system).await;
    let db = system.db(&order_query_service::SPEC).await;
    let (member, pen) = (9_141, 914_001);
    let (_, id) = projection_dead_letter(&db, &bus, member, pen).await;
    for consumer in ["hot-catalog-orders", "wallet-settlement"] {
        bus.wait_idle(&ORDERS, consumer, WAIT).await;
    }
    let others = [
        ("hot-catalog-service", "hot-catalog-orders"),
        ("wallet-service", "wallet-settlement"),
    ];
    let mut before = Vec::new();
    for (service, consumer) in others {
        before.push(handled(&system, service, consumer).await);
    }
    let messages = bus.count(&ORDERS).await;

    let (status, problem) = replay(&system, id).await;
    assert_eq!(status, 422, "still failing: {problem}");
    assert_eq!(problem["code"], "DEAD_LETTER_REPLAY_FAILED");
    let open: Option<String> = sqlx::query_scalar(
        "select last_error from dead_letters where id = $1 and resolved_at is null",
    )
    .bind(id)
    .fetch_one(&db)
    .await
    .expect("the letter stays open");
    assert!(open.is_some_and(|e| e.contains("e2e_outage")));

    end_projection_outage(&db).await;
    let (status, applied) = replay(&system, id).await;
    assert_eq!(
        (status, applied["outcome"].as_str()),
        (200, Some("APPLIED")),
        "{applied}"
    );
    let path = format!("/api/orders/payment-events/{pen}/members/{member}");
    let (status, order) = get(&system, &path).await;
    assert_eq!(status, 200, "applied before the answer: {order}");
    let (status, again) = replay(&system, id).await;
    assert_eq!(
        (status, again["outcome"].as_str()),
        (200, Some("ALREADY_RESOLVED"))
    );

    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(bus.count(&ORDERS).await, messages, "nothing was published");
    for ((service, consumer), before) in others.into_iter().zip(before) {
        assert_eq!(
            handled(&system, service, consumer).await,
            before,
            "{consumer} saw nothing"
        );
    }
    system.stop().await;
}
