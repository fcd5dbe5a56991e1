//! `POST /admin/rebuild` of order-query-service refuses to empty a read model the streams can
//! no longer rebuild (services/order-query-service/src/admin.rs): the streams keep a week of
//! events, the read model every order, and a rebuild used to drop the older ones silently.

use paymsa_e2e::{
    order_history::{at, base_time, event, paid, wait_for_orders, wait_processed, SERVICE},
    streams::Bus,
    TestSystem,
};
use serde_json::Value;

async fn rebuild(system: &TestSystem, query: &str) -> (u16, Value) {
    let response = system
        .http
        .post(format!("{}/admin/rebuild{query}", system.url(SERVICE)))
        .bearer_auth("test-admin-token")
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_rebuild_the_streams_cannot_make_is_refused_unless_forced() {
    let system = TestSystem::start_only(&[SERVICE]).await;
    let bus = Bus::connect(&system).await;
    let db = system.db(&order_query_service::SPEC).await;
    let base = base_time();
    let confirm = event(paid(400_000, 400, at(base, 0), 1), at(base, 10_000));
    bus.publish(&confirm).await;
    wait_for_orders(&system, 400, 1).await;
    wait_processed(&db, &[confirm.event_id]).await;

    // The ORDERS stream loses what it held (its week passed): the order's event is gone.
    let name = bus.topology.stream_name(&events::topology::ORDERS);
    bus.js
        .get_stream(&name)
        .await
        .expect("the stream")
        .purge()
        .await
        .expect("purged");
    let (status, refused) = rebuild(&system, "").await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("STREAMS_NO_LONGER_HOLD_HISTORY")),
        "{refused}"
    );
    assert_eq!(
        wait_for_orders(&system, 400, 1).await.len(),
        1,
        "the read model kept"
    );

    let (status, forced) = rebuild(&system, "?force=true").await;
    assert_eq!(status, 202, "{forced}");
    assert_eq!(forced["droppedViews"], 1, "{forced}");
    db.close().await;
    system.stop().await;
}
