//! Dead letters end to end: replay after a fix, and the admin API over HTTP.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use common::{
    eventually, record_effect, seller_registered, spec, FnHandler, Harness, Log, ADMIN_TOKEN,
};
use messaging::{Applied, Delivery, HandlerError};
use serde_json::Value;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn replay(h: &Harness, id: &str) -> Value {
    let response = http()
        .post(format!("{}/admin/dead-letters/{id}/replay", h.base_url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("replay request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// Fix the fault, replay: the consumer applies the event once. Replaying again, and the other
/// consumer of the same subject that applied it the first time, skip it (processed_events).
#[tokio::test]
async fn a_replay_after_the_fix_is_applied_once_and_skipped_by_whoever_applied_it() {
    let h = Harness::start().await;
    let broken = Arc::new(AtomicBool::new(true));
    type Outcomes = Arc<Mutex<Vec<Applied<()>>>>;
    let handler = |durable: &'static str, broken: Arc<AtomicBool>, outcomes: Outcomes, log: Log| {
        let pool = h.pool.clone();
        FnHandler(move |d: Delivery| {
            log.push(d.clone());
            let (pool, broken, outcomes) = (pool.clone(), broken.clone(), outcomes.clone());
            async move {
                if broken.load(Ordering::SeqCst) {
                    return Err(HandlerError::retry("bug: settlement rule missing"));
                }
                let applied = record_effect(
                    &pool,
                    durable,
                    d.decode::<events::SellerRegistered>()?.event_id,
                )
                .await?;
                outcomes.lock().expect("lock").push(applied);
                Ok(())
            }
        })
    };
    let (fixed_outcomes, fixed_log) = (Outcomes::default(), Log::default());
    let mut fast = spec("was-broken");
    fast.retry_delays = vec![Duration::from_millis(100)];
    h.spawn(
        fast,
        handler(
            "was-broken",
            broken.clone(),
            fixed_outcomes.clone(),
            fixed_log.clone(),
        ),
    )
    .await;
    let other_outcomes = Outcomes::default();
    h.spawn(
        spec("always-fine"),
        handler(
            "always-fine",
            Arc::new(AtomicBool::new(false)),
            other_outcomes.clone(),
            Log::default(),
        ),
    )
    .await;
    h.spawn_dead_letters(vec!["was-broken", "always-fine"])
        .await;

    let event = seller_registered(10);
    h.publish(&event).await;
    eventually(Duration::from_secs(10), "the dead letter", || async {
        h.dead_letters().await.len() == 1
    })
    .await;
    assert_eq!(fixed_log.len(), 3);
    assert_eq!(
        *other_outcomes.lock().expect("lock"),
        vec![Applied::Done(())]
    );
    let id = h.dead_letters().await[0].id.to_string();

    broken.store(false, Ordering::SeqCst);
    let first = replay(&h, &id).await;
    assert_eq!(first["msgId"], format!("{}-replay-1", event.event_id));
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["deadLetter"]["replayCount"], 1);
    eventually(Duration::from_secs(10), "the replay handled", || async {
        fixed_outcomes.lock().expect("lock").len() == 1
            && other_outcomes.lock().expect("lock").len() == 2
    })
    .await;
    assert_eq!(
        *fixed_outcomes.lock().expect("lock"),
        vec![Applied::Done(())]
    );
    assert_eq!(
        *other_outcomes.lock().expect("lock"),
        vec![Applied::Done(()), Applied::Skipped],
        "the consumer that had applied it skips the replay"
    );
    let replayed = &fixed_log.entries()[3].1;
    assert_eq!(replayed.event.event_id, event.event_id, "same eventId");
    assert_eq!(
        replayed.header("Nats-Msg-Id"),
        Some(first["msgId"].as_str().unwrap_or_default())
    );
    assert_eq!(replayed.header("Paymsa-Replay-Of"), Some(id.as_str()));
    assert!(replayed.traceparent().is_some(), "other headers kept");

    let second = replay(&h, &id).await;
    assert_eq!(second["msgId"], format!("{}-replay-2", event.event_id));
    assert_eq!(second["deadLetter"]["replayCount"], 2);
    eventually(
        Duration::from_secs(10),
        "the second replay handled",
        || async {
            fixed_outcomes.lock().expect("lock").len() == 2
                && other_outcomes.lock().expect("lock").len() == 3
        },
    )
    .await;
    assert_eq!(
        *fixed_outcomes.lock().expect("lock"),
        vec![Applied::Done(()), Applied::Skipped]
    );
    assert_eq!(h.effects(event.event_id).await, 2, "once per consumer");
    assert_eq!(h.processed("was-broken", event.event_id).await, 1);
    assert_eq!(h.processed("always-fine", event.event_id).await, 1);
    assert_eq!(h.dead_letters().await.len(), 1, "no new dead letters");
    h.cleanup().await;
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
    let replayed = replay(&h, id).await;
    assert_eq!(replayed["deadLetter"]["replayCount"], 1);
    assert!(replayed["deadLetter"]["lastReplayedAt"].is_string());
    assert!(replayed["streamSeq"].as_u64().is_some());
    // Still undecodable, so the replay is dead-lettered again under its new sequence.
    eventually(
        Duration::from_secs(10),
        "the replay dead-lettered",
        || async { h.dead_letters().await.len() == 4 },
    )
    .await;
    h.cleanup().await;
}
