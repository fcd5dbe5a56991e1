//! order-query-service end to end: it runs alone (`TestSystem::start_only`), and the events
//! the read model is fed from are published straight to this test's namespace, as the order and
//! wallet services would (typed envelopes, `Nats-Msg-Id`), so these tests do not depend on the
//! payment flow, and no `wallet.settled` arrives but the ones published here.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use events::{Envelope, Event};
use paymsa_e2e::{
    eventually,
    order_history::{
        all_orders, at, base_time, event, failed, get, history, normalized, paid, pen_of, settled,
        wait_for_orders, wait_processed, SERVICE, WAIT,
    },
    streams::Bus,
    TestSystem,
};
use serde_json::Value;
use sqlx::types::Uuid;

/// Pages walk every order of a member exactly once, newest first, also when many orders share
/// one `createdDateTime`, with the cursor as epoch ms (as `nextCursor` gives it) and as ISO;
/// the seed's calls work as written; bad input is a 400, another member's order a 404.
#[tokio::test]
async fn pages_walk_every_order_once_with_ties_and_reject_bad_input() {
    // Groups wait up to 200 ms to fill (the default 10 ms may pass between two publishes on a
    // loaded runner), so the burst below is projected in groups.
    let system = TestSystem::builder()
        .only([SERVICE])
        .overrides([("GROUP_COMMIT_LINGER_MS", "200")])
        .start()
        .await;
    let bus = Bus::connect(&system).await;
    let base = base_time();
    // 47 orders of member 7, six per millisecond (microseconds apart, which the read model
    // truncates: real ties), and 5 of member 8 in between that must never show up.
    let mut expected = Vec::new();
    for i in 0..47_i64 {
        let ordered_at = at(base, i / 6) + TimeDelta::microseconds(100 * (i % 6));
        let order = paid(70_000 + (i * 37) % 47, 7, ordered_at, 1 + i % 3);
        expected.push((at(base, i / 6), order.payment_event_no, order.lines.len()));
        bus.publish(&event(order, at(base, 60_000))).await;
    }
    for i in 0..5 {
        let order = paid(80_000 + i, 8, at(base, i), 1);
        bus.publish(&event(order, at(base, 60_000))).await;
    }
    expected.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    let want: Vec<i64> = expected.iter().map(|e| e.1).collect();
    wait_for_orders(&system, 7, 47).await;
    wait_for_orders(&system, 8, 5).await;
    // Published in a burst, the orders were projected in groups, each group as one batch
    // (services/order-query-service/src/projection_batch.rs): rows written by a batch share
    // one xid (its savepoint's), where the careful path gives each order a savepoint of its own.
    let db = system.db(&order_query_service::SPEC).await;
    let (views, transactions): (i64, i64) = sqlx::query_as(
        "select count(*), count(distinct xmin::text) from order_views where member_no = 7",
    )
    .fetch_one(&db)
    .await
    .expect("query");
    assert!(
        transactions < views,
        "{views} views in {transactions} transactions: no batch"
    );

    // Epoch-ms cursors straight from nextCursor; the first page as the seed writes it.
    let mut walked = Vec::new();
    let mut next = "/api/orders/members/7?paymentEventNo=&createdDateTime=&limit=".to_string();
    let mut pages = 0;
    loop {
        let (status, body) = get(&system, &next).await;
        assert_eq!(status, 200, "{next}: {body}");
        let orders = body["orders"].as_array().cloned().unwrap_or_default();
        assert!(orders.len() <= 10, "default limit is 10");
        for order in &orders {
            let pen = pen_of(order);
            let lines = expected.iter().find(|e| e.1 == pen).map(|e| e.2);
            assert_eq!(order["lines"].as_array().map(Vec::len), lines, "{order}");
            assert_eq!(order["status"], "PAID");
            assert_eq!(order["memberNo"], "7");
            walked.push(pen);
        }
        pages += 1;
        let cursor = &body["nextCursor"];
        if cursor.is_null() {
            break;
        }
        let created = cursor["createdDateTime"]
            .as_i64()
            .expect("epoch ms integer");
        let no = cursor["paymentEventNo"].as_str().expect("string id");
        next = format!("/api/orders/members/7?paymentEventNo={no}&createdDateTime={created}");
    }
    assert_eq!(pages, 5, "47 orders in pages of 10, no empty last page");
    assert_eq!(
        walked, want,
        "every order once, newest first, ties by paymentEventNo"
    );

    // ISO cursors, made from the last order's createdDateTime, sent encoded and unencoded.
    let mut walked_iso = Vec::new();
    let mut cursor: Option<(String, String)> = None;
    let list = format!("{}/api/orders/members/7", system.url(SERVICE));
    for page in 0.. {
        let request = match &cursor {
            None => system.http.get(&list).query(&[("limit", "7")]),
            // Encoded: the `+00:00` offset arrives intact.
            Some((no, created)) if page % 2 == 0 => system.http.get(&list).query(&[
                ("limit", "7"),
                ("paymentEventNo", no.as_str()),
                ("createdDateTime", created.as_str()),
            ]),
            // Hand-typed: the unencoded `+` of the offset arrives as a space.
            Some((no, created)) => system.http.get(format!(
                "{list}?limit=7&paymentEventNo={no}&createdDateTime={created}"
            )),
        };
        let body: Value = request
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("json");
        let orders = body["orders"].as_array().cloned().unwrap_or_default();
        walked_iso.extend(orders.iter().map(pen_of));
        let (Some(last), false) = (orders.last(), body["nextCursor"].is_null()) else {
            break;
        };
        let created = last["createdDateTime"]
            .as_str()
            .expect("ISO string")
            .to_string();
        cursor = Some((pen_of(last).to_string(), created));
    }
    assert_eq!(walked_iso, want, "ISO cursors walk the same sequence");

    // One order: the member's own, never another member's.
    let own = format!("/api/orders/payment-events/{}/members/7", want[0]);
    let (status, body) = get(&system, &own).await;
    assert_eq!(
        (status, body["paymentEventNo"].clone()),
        (200, want[0].to_string().into())
    );
    for path in [
        format!("/api/orders/payment-events/{}/members/8", want[0]),
        "/api/orders/payment-events/123456/members/7".to_string(),
    ] {
        let (status, body) = get(&system, &path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("ORDER_NOT_FOUND")),
            "{path}"
        );
    }

    let (status, body) = get(&system, "/api/orders/members/7?limit=100").await;
    assert_eq!(
        (status, body["orders"].as_array().map(Vec::len)),
        (200, Some(47))
    );
    assert_eq!(
        body.get("nextCursor"),
        Some(&Value::Null),
        "the last page says null"
    );
    let (status, spec) = get(&system, "/openapi.json").await;
    assert_eq!(status, 200);
    for operation in [
        "list_member_orders",
        "get_member_order",
        "rebuild_read_model",
    ] {
        assert!(
            spec.to_string().contains(operation),
            "{operation} documented"
        );
    }
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=ten",
        "paymentEventNo=70001",
        "createdDateTime=1740830400000",
        "paymentEventNo=x&createdDateTime=1740830400000",
        "paymentEventNo=70001&createdDateTime=yesterday",
    ] {
        let (status, body) = get(&system, &format!("/api/orders/members/7?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "VALIDATION_FAILED", "{query}: {body}");
    }
    let (status, _) = get(&system, "/api/orders/members/abc").await;
    assert_eq!(status, 400);
    system.stop().await;
}

/// Publishes `event` and waits until the projection has applied it.
async fn apply<E: Event>(bus: &Bus, db: &sqlx::PgPool, event: &Envelope<E>) {
    bus.publish(event).await;
    wait_processed(db, &[event.event_id]).await;
}

/// Waits until both projection consumers have acknowledged everything in their streams.
async fn wait_drained(bus: &Bus) {
    bus.wait_idle(&events::topology::ORDERS, "order-query-projection", WAIT)
        .await;
    bus.wait_idle(&events::topology::WALLETS, "order-query-wallet", WAIT)
        .await;
}

/// The same history applied in order (member 100) and shuffled with redeliveries (member 200:
/// settled before confirmed, older events after newer ones, the same event under a second
/// `Nats-Msg-Id`) ends in the same read model.
#[tokio::test]
async fn redelivered_and_out_of_order_events_leave_the_same_read_model() {
    let system = TestSystem::start_only(&[SERVICE]).await;
    let bus = Bus::connect(&system).await;
    let db = system.db(&order_query_service::SPEC).await;

    // The in-order reference: strictly one event after the other.
    let a = history(100, 100_001);
    apply(&bus, &db, &a.paid1).await;
    apply(&bus, &db, &a.settled1).await;
    apply(&bus, &db, &a.failed2).await;
    apply(&bus, &db, &a.paid2).await;
    apply(&bus, &db, &a.failed3_old).await;
    apply(&bus, &db, &a.failed3_new).await;
    apply(&bus, &db, &a.paid4_old).await;
    apply(&bus, &db, &a.paid4_new).await;

    let b = history(200, 200_001);
    apply(&bus, &db, &b.settled1).await;
    let parked: i64 = sqlx::query_scalar(
        "select count(*) from wallet_settlements s where payment_event_no = 200001
         and not exists (select 1 from order_views v where v.payment_event_no = 200001)",
    )
    .fetch_one(&db)
    .await
    .expect("query");
    assert_eq!(parked, 1, "the settlement is kept until its order arrives");
    let (status, _) = get(&system, "/api/orders/payment-events/200001/members/200").await;
    assert_eq!(status, 404, "no half order is shown");
    // Each late older event only after the newer one is in.
    apply(&bus, &db, &b.paid2).await;
    apply(&bus, &db, &b.failed2).await;
    apply(&bus, &db, &b.failed3_new).await;
    apply(&bus, &db, &b.failed3_old).await;
    apply(&bus, &db, &b.paid4_new).await;
    apply(&bus, &db, &b.paid4_old).await;
    // The same events under second message ids (the server keeps both copies).
    apply(&bus, &db, &b.paid1).await;
    let again = |id: Uuid| format!("{id}-again");
    bus.publish_as(&b.paid1, &again(b.paid1.event_id)).await;
    bus.publish_as(&b.settled1, &again(b.settled1.event_id))
        .await;
    bus.publish_as(&b.paid4_old, &again(b.paid4_old.event_id))
        .await;
    wait_drained(&bus).await;

    let orders_a = all_orders(&system, 100).await;
    let orders_b = all_orders(&system, 200).await;
    assert_eq!(orders_b.len(), 4, "{orders_b:?}");
    assert_eq!(
        normalized(&orders_b, 200_001),
        normalized(&orders_a, 100_001)
    );
    let order = |rel: i64| {
        let found = orders_b.iter().find(|o| pen_of(o) == 200_001 + rel);
        found.cloned().unwrap_or(Value::Null)
    };
    let (o1, o2, o3, o4) = (order(0), order(1), order(2), order(3));
    assert_eq!(
        (&o1["status"], &o1["walletSettled"]),
        (&"PAID".into(), &true.into())
    );
    assert_eq!(o1["lines"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (&o2["status"], &o2["failureCode"]),
        (&"PAID".into(), &Value::Null)
    );
    assert_eq!(
        o2["lines"].as_array().map(Vec::len),
        Some(1),
        "PAID beats FAILED"
    );
    assert_eq!(o3["status"], "FAILED");
    assert_eq!(
        o3["failureCode"], "EXCEED_MAX_AMOUNT",
        "the newer failure wins"
    );
    assert_eq!(
        o4["method"], "간편결제",
        "a late older event does not overwrite"
    );
    let lines: i64 = sqlx::query_scalar(
        "select count(*) from order_view_lines where payment_event_no between 200001 and 200004",
    )
    .fetch_one(&db)
    .await
    .expect("query");
    assert_eq!(lines, 6, "no line twice");
    system.stop().await;
}

/// Events published while order-query-service is stopped are all there after its restart
/// (the durables kept their place); then `POST /admin/rebuild` drops the read model and the
/// replay of the streams brings back exactly the same one.
#[tokio::test]
async fn catches_up_after_a_restart_and_rebuilds_from_the_streams() {
    let mut system = TestSystem::start_only(&[SERVICE]).await;
    let bus = Bus::connect(&system).await;
    let db = system.db(&order_query_service::SPEC).await;
    let base = base_time();
    for i in 0..3 {
        let order = paid(300_000 + i, 300, at(base, i), 1);
        bus.publish(&event(order, at(base, 10_000))).await;
    }
    wait_for_orders(&system, 300, 3).await;

    system.stop_service(SERVICE).await;
    let mut sent = Vec::new();
    for i in 3..23 {
        let order = paid(300_000 + i, 300, at(base, i), 2);
        let settle = event(settled(&order), at(base, 20_000));
        let confirm = event(order, at(base, 10_000));
        // Half of the settlements go out before their order.
        if i % 2 == 0 {
            bus.publish(&settle).await;
            bus.publish(&confirm).await;
        } else {
            bus.publish(&confirm).await;
            bus.publish(&settle).await;
        }
        sent.extend([confirm.event_id, settle.event_id]);
    }
    for i in 23..25 {
        let order = failed(300_000 + i, 300, at(base, i), "REJECT_CARD_PAYMENT");
        let failure = event(order, at(base, 10_000));
        bus.publish(&failure).await;
        sent.push(failure.event_id);
    }
    system.restart_service(SERVICE).await;

    let orders = eventually(WAIT, "every order caught up and settled", || async {
        let orders = all_orders(&system, 300).await;
        let settled = orders.iter().filter(|o| o["walletSettled"] == true).count();
        (orders.len() == 25 && settled == 20).then_some(orders)
    })
    .await;
    wait_processed(&db, &sent).await;
    let want: Vec<i64> = (0..25).rev().map(|i| 300_000 + i).collect();
    assert_eq!(orders.iter().map(pen_of).collect::<Vec<_>>(), want);
    let dead: i64 = sqlx::query_scalar("select count(*) from dead_letters")
        .fetch_one(&db)
        .await
        .expect("query");
    assert_eq!(dead, 0, "nothing was dead-lettered");

    let rebuild = format!("{}/admin/rebuild", system.url(SERVICE));
    for token in [None, Some("wrong")] {
        let mut request = system.http.post(&rebuild);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status(), 401, "token {token:?}");
    }
    let before: DateTime<Utc> = sqlx::query_scalar("select now()")
        .fetch_one(&db)
        .await
        .expect("query");
    let response = system
        .http
        .post(&rebuild)
        .bearer_auth("test-admin-token")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["droppedViews"], 25, "{body}");
    let replayed = eventually(WAIT, "the read model replayed", || async {
        let again = all_orders(&system, 300).await;
        let settled = again.iter().filter(|o| o["walletSettled"] == true).count();
        (again.len() == 25 && settled == 20).then_some(again)
    })
    .await;
    assert_eq!(replayed, orders, "the same read model");
    let oldest: Option<DateTime<Utc>> =
        sqlx::query_scalar("select min(updated_at) from order_views")
            .fetch_one(&db)
            .await
            .expect("query");
    assert!(
        oldest.is_some_and(|t| t > before),
        "every row was written by the replay"
    );
    let distinct: HashSet<i64> = replayed.iter().map(pen_of).collect();
    assert_eq!(distinct.len(), 25);
    system.stop().await;
}
