//! Dead letters end to end: the admin API over HTTP (replays: tests/replay.rs).

mod common;

use std::time::Duration;

use common::{eventually, record_effect, seller_registered, spec, FnHandler, Harness, ADMIN_TOKEN};
use serde_json::Value;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// The admin API: 401 problem+json without, with a wrong, or with no configured token;
/// list (paged, newest first, ids as strings), inspect and replay with it.
#[tokio::test]
async fn the_admin_api_needs_the_token_and_lists_inspects_and_replays() {
    let h = Harness::start().await;
    h.spawn(spec("api-consumer"), FnHandler(|_d| async { Ok(()) }))
        .await;
    h.spawn_dead_letters(vec!["api-consumer"]).await;
    for body in [&b"bad 1"[..], b"bad 2", b"bad 3"] {
        h.publish_raw(body).await;
    }
    eventually(Duration::from_secs(10), "three dead letters", || async {
        h.dead_letters().await.len() == 3
    })
    .await;
    let list_url = format!("{}/admin/dead-letters", h.base_url);

    for auth in [None, Some("wrong-token")] {
        let mut request = http().get(&list_url);
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 401, "token {auth:?}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/problem+json"),
            "{content_type}"
        );
        let problem: Value = response.json().await.expect("json");
        assert_eq!(problem["code"], "UNAUTHORIZED");
        assert_eq!(problem["status"], 401);
    }
    let unconfigured = h.serve_with_token(None).await;
    let response = http()
        .get(format!(
            "http://127.0.0.1:{}/admin/dead-letters",
            unconfigured.port()
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        401,
        "no admin token configured: always 401"
    );
    unconfigured.stop().await.expect("stopped");

    let get = |url: String| async move {
        let response = http()
            .get(url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("json"))
    };
    let (status, page1) = get(format!("{list_url}?limit=2")).await;
    assert_eq!(status, 200);
    let items = page1["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(items[0]["id"].is_string(), "ids are strings");
    assert!(
        items[0]["firstSeenAt"].as_str() >= items[1]["firstSeenAt"].as_str(),
        "newest first"
    );
    let cursor = page1["nextCursor"].as_str().expect("a next page");
    let (_, page2) = get(format!("{list_url}?limit=2&cursor={cursor}")).await;
    let rest = page2["items"].as_array().expect("items");
    assert_eq!(rest.len(), 1);
    assert!(page2["nextCursor"].is_null());
    let mut payloads: Vec<String> = Vec::new();
    for item in items.iter().chain(rest) {
        let id = item["id"].as_str().expect("id");
        let (status, detail) = get(format!("{list_url}/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(detail["reason"], "TERMINATED");
        assert_eq!(detail["consumer"], "api-consumer");
        assert_eq!(detail["replayable"], true);
        payloads.push(detail["payloadText"].as_str().expect("text").to_string());
    }
    payloads.sort();
    assert_eq!(payloads, ["bad 1", "bad 2", "bad 3"]);

    let (status, problem) = get(format!("{list_url}/12345")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("DEAD_LETTER_NOT_FOUND"))
    );
    let (status, problem) = get(format!("{list_url}/abc")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("INVALID_ID"))
    );
    let (status, _) = get(format!("{list_url}?limit=1000")).await;
    assert_eq!(status, 400);

    let id = items[0]["id"].as_str().expect("id");
    let response = http()
        .post(format!("{list_url}/{id}/replay"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401, "replay needs the token too");
    // Still undecodable: the replay fails as the live delivery did, reported, not 500, and
    // the letter stays open with the error; nothing is republished, so no new dead letter.
    let response = http()
        .post(format!("{list_url}/{id}/replay"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "DEAD_LETTER_REPLAY_FAILED");
    let (_, detail) = get(format!("{list_url}/{id}")).await;
    assert_eq!(detail["replayCount"], 1);
    assert!(detail["resolvedAt"].is_null());
    assert!(
        detail["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("rejected")),
        "{detail}"
    );
    assert_eq!(h.dead_letters().await.len(), 3);
    h.cleanup().await;
}

/// A delivery that committed and still failed, to its last delivery (an ack lost after the
/// commit; here the handler errs after it) is stored resolved: applied already, nothing to
/// replay, not counted for the alert. Until stop 31 it was stored open, and a replay after
/// its processed record's 45 days applied the event a second time.
#[tokio::test]
async fn a_letter_of_an_event_applied_already_is_stored_resolved() {
    let h = Harness::start().await;
    let durable = "applied-then-failed";
    let mut consumer = spec(durable);
    consumer.retry_delays = vec![Duration::from_millis(100)];
    let pool = h.pool.clone();
    let handler = FnHandler(move |d: messaging::Delivery| {
        let pool = pool.clone();
        async move {
            record_effect(&pool, durable, d.event.event_id).await?;
            Err(messaging::HandlerError::retry(
                "test: failed after its commit",
            ))
        }
    });
    h.spawn(consumer, handler).await;
    h.spawn_dead_letters(vec![durable]).await;
    let event = seller_registered(4);
    h.publish(&event).await;
    eventually(Duration::from_secs(20), "the dead letter", || async {
        !h.dead_letters().await.is_empty()
    })
    .await;
    let letters = h.dead_letters().await;
    assert_eq!(letters.len(), 1);
    assert!(letters[0].resolved_at.is_some(), "stored resolved");
    assert!(
        letters[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("applied already")),
        "{:?}",
        letters[0].last_error
    );
    assert_eq!(h.effects(event.event_id).await, 1, "applied once");
    h.cleanup().await;
}
