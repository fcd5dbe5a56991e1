//! Dead-letter replay (issue 14) against real NATS and Postgres: the stored message runs
//! through the failed consumer's own handler in process; the subject's other consumers see
//! nothing, a resolved letter is never run again, a failure again leaves the letter open.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{
    eventually, record_effect, seller_registered, spec, FnHandler, Harness, Log, ADMIN_TOKEN,
};
use messaging::{claim_event, Delivery, GroupCommit, GroupHandler, HandlerError, Lanes};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// POSTs a replay: the status and the JSON body (a result or a problem).
async fn replay(h: &Harness, id: i64) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/admin/dead-letters/{id}/replay", h.base_url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("replay request");
    let status = response.status().as_u16();
    if status != 200 {
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(content_type.starts_with("application/problem+json"));
    }
    (status, response.json().await.expect("json"))
}

/// POSTs a dismissal with `reason`: the status and the JSON body.
async fn dismiss(h: &Harness, id: i64, reason: impl Into<Value>) -> (u16, Value) {
    let reason: Value = reason.into();
    let response = reqwest::Client::new()
        .post(format!("{}/admin/dead-letters/{id}/dismiss", h.base_url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "reason": reason }))
        .send()
        .await
        .expect("dismiss request");
    (
        response.status().as_u16(),
        response.json().await.expect("json"),
    )
}

/// A handler that fails while `broken`, else applies the event once (processed_events).
fn flaky(
    h: &Harness,
    durable: &'static str,
    broken: Arc<AtomicBool>,
    log: Log,
) -> impl messaging::Handler {
    let pool = h.pool.clone();
    FnHandler(move |d: Delivery| {
        log.push(d.clone());
        let (pool, broken) = (pool.clone(), broken.clone());
        async move {
            if broken.load(Ordering::SeqCst) {
                return Err(HandlerError::retry("bug: settlement rule missing"));
            }
            // Slow enough that two concurrent replays overlap.
            tokio::time::sleep(Duration::from_millis(200)).await;
            record_effect(&pool, durable, d.event.event_id).await?;
            Ok(())
        }
    })
}

async fn last_seq(h: &Harness) -> u64 {
    let mut stream =
        h.js.get_stream(h.topology.stream_name(&events::topology::SELLERS))
            .await
            .expect("stream");
    stream.info().await.expect("info").state.last_sequence
}

#[tokio::test]
async fn a_replay_reaches_only_the_failed_consumer_and_applies_once() {
    let h = Harness::start().await;
    let broken = Arc::new(AtomicBool::new(true));
    let (a_log, b_log) = (Log::default(), Log::default());
    let mut a = spec("replay-a");
    a.retry_delays = vec![Duration::from_millis(100)];
    h.spawn(a, flaky(&h, "replay-a", broken.clone(), a_log.clone()))
        .await;
    let fine = Arc::new(AtomicBool::new(false));
    h.spawn(spec("replay-b"), flaky(&h, "replay-b", fine, b_log.clone()))
        .await;
    h.spawn_dead_letters(vec!["replay-a", "replay-b"]).await;

    let event = seller_registered(10);
    h.publish(&event).await;
    eventually(Duration::from_secs(10), "the dead letter", || async {
        h.dead_letters().await.len() == 1 && h.effects(event.event_id).await == 1
    })
    .await;
    let letter = h.dead_letters().await.remove(0);
    assert_eq!(letter.consumer, "replay-a");
    let (a_seen, b_seen, seq) = (a_log.len(), b_log.len(), last_seq(&h).await);
    assert_eq!((a_seen, b_seen), (3, 1));

    // Still failing: the error comes back, the letter stays open with it.
    let (status, problem) = replay(&h, letter.id).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "DEAD_LETTER_REPLAY_FAILED");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("settlement rule missing"), "{detail}");
    let open = &h.dead_letters().await[0];
    assert!(open.resolved_at.is_none());
    assert_eq!(open.replay_count, 1);
    assert!(open
        .last_error
        .as_deref()
        .unwrap_or_default()
        .contains("settlement rule missing"));
    assert_eq!(a_log.len(), a_seen + 1);

    broken.store(false, Ordering::SeqCst);
    let (status, first) = replay(&h, letter.id).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["outcome"], "APPLIED");
    assert_eq!(first["consumer"], "replay-a");
    assert!(first["deadLetter"]["resolvedAt"].is_string());
    assert!(first["deadLetter"]["lastError"].is_null());
    assert_eq!(first["deadLetter"]["replayCount"], 2);
    let replayed = &a_log.entries()[a_seen + 1].1;
    assert_eq!(replayed.event.event_id, event.event_id);
    assert_eq!(
        replayed.header("Paymsa-Replay-Of"),
        Some(letter.id.to_string().as_str())
    );
    assert_eq!(replayed.header("Nats-Msg-Id"), letter.msg_id.as_deref());
    assert!(replayed.traceparent().is_some(), "headers kept");
    assert_eq!(h.processed("replay-a", event.event_id).await, 1);

    // Again: resolved, so nothing runs.
    let (status, second) = replay(&h, letter.id).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["outcome"], "ALREADY_RESOLVED");
    assert_eq!(second["deadLetter"]["replayCount"], 2);
    assert_eq!(a_log.len(), a_seen + 2);

    // Give a republished copy time to arrive: none may, B never runs again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b_log.len(), b_seen, "the other consumer saw nothing");
    assert_eq!(last_seq(&h).await, seq, "nothing was published");
    assert_eq!(h.effects(event.event_id).await, 2, "once per consumer");
    assert_eq!(h.dead_letters().await.len(), 1, "no new dead letters");
    let metrics = h.metrics.render();
    for (outcome, n) in [("failed", 1), ("applied", 1), ("duplicate", 0)] {
        let line = format!(
            r#"paymsa_consumer_replays_total{{consumer="replay-a",outcome="{outcome}",service="messaging-test"}} {n}"#
        );
        assert!(metrics.contains(&line), "missing {line} in\n{metrics}");
    }
    // The replay resolved the only letter: the gauge the PaymsaDeadLetters alert reads goes
    // back to 0 on the worker's next recount (it counted resolved letters, so the alert never
    // cleared).
    let cleared = r#"paymsa_dead_letters_stored{service="messaging-test"} 0"#;
    eventually(Duration::from_secs(25), "the gauge at 0", || async {
        h.metrics.render().contains(cleared)
    })
    .await;
    h.cleanup().await;
}

#[tokio::test]
async fn concurrent_replays_of_one_letter_apply_it_once_and_a_gone_consumer_is_a_conflict() {
    let h = Harness::start().await;
    let broken = Arc::new(AtomicBool::new(true));
    let log = Log::default();
    let mut a = spec("replay-twice");
    a.retry_delays = vec![Duration::from_millis(100)];
    h.spawn(a, flaky(&h, "replay-twice", broken.clone(), log.clone()))
        .await;
    h.spawn_dead_letters(vec!["replay-twice", "replay-gone"])
        .await;
    let event = seller_registered(11);
    h.publish(&event).await;
    eventually(Duration::from_secs(10), "the dead letter", || async {
        h.dead_letters().await.len() == 1
    })
    .await;
    let letter = h.dead_letters().await.remove(0);
    broken.store(false, Ordering::SeqCst);
    let (one, two) = tokio::join!(replay(&h, letter.id), replay(&h, letter.id));
    let mut outcomes = [one.1["outcome"].clone(), two.1["outcome"].clone()];
    outcomes.sort_by_key(|v| v.to_string());
    assert_eq!(
        outcomes,
        [Value::from("ALREADY_RESOLVED"), Value::from("APPLIED")]
    );
    assert_eq!(h.effects(event.event_id).await, 1);
    assert_eq!(log.len(), 4, "three deliveries and one replay");

    // A letter of a consumer this service no longer runs.
    let orphan = letter.id + 1;
    sqlx::query(
        "insert into dead_letters (id, stream, stream_seq, consumer, subject, reason, deliveries,
             event_id, msg_id, headers, payload)
         select $1, stream, stream_seq, 'replay-gone', subject, reason, deliveries, event_id,
             msg_id, headers, payload from dead_letters where id = $2",
    )
    .bind(orphan)
    .bind(letter.id)
    .execute(&h.pool)
    .await
    .expect("orphan letter");
    let (status, problem) = replay(&h, orphan).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("DEAD_LETTER_CONSUMER_GONE"))
    );
    let (status, problem) = replay(&h, 12345).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("DEAD_LETTER_NOT_FOUND"))
    );

    // No replay can resolve the orphan: an operator dismisses it, with a reason, and it stops
    // counting (before, it kept PaymsaDeadLetters firing for good).
    let open = r#"paymsa_dead_letters_stored{service="messaging-test"} 1"#;
    eventually(Duration::from_secs(25), "the orphan counted", || async {
        h.metrics.render().contains(open)
    })
    .await;
    let (status, problem) = dismiss(&h, orphan, "  ").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("INVALID_REASON"))
    );
    let (status, problem) = dismiss(&h, 12345, "gone").await;
    assert_eq!(status, 404, "{problem}");
    // poem-openapi's `String` would take `true` as "true" (libs/service-kit/src/strict.rs).
    for not_text in [Value::Bool(true), Value::from(7)] {
        let (status, problem) = dismiss(&h, orphan, not_text.clone()).await;
        assert_eq!(status, 400, "{not_text}: {problem}");
    }
    let (status, dismissed) = dismiss(&h, orphan, "replay-gone was retired in v2").await;
    assert_eq!(status, 200, "{dismissed}");
    assert!(dismissed["resolvedAt"].is_string(), "{dismissed}");
    assert_eq!(
        dismissed["lastError"],
        "dismissed: replay-gone was retired in v2"
    );
    let (status, again) = dismiss(&h, orphan, "twice").await;
    assert_eq!(
        (status, &again["lastError"]),
        (200, &dismissed["lastError"])
    );
    let (status, replayed) = replay(&h, orphan).await;
    assert_eq!(
        (status, replayed["outcome"].as_str()),
        (200, Some("ALREADY_RESOLVED"))
    );
    let cleared = r#"paymsa_dead_letters_stored{service="messaging-test"} 0"#;
    eventually(Duration::from_secs(25), "the gauge at 0", || async {
        h.metrics.render().contains(cleared)
    })
    .await;
    h.cleanup().await;
}

/// A grouped consumer (GroupCommit with lanes) fails on a seller while `broken`.
struct Grouped {
    broken: Arc<AtomicBool>,
}

impl GroupHandler for Grouped {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn apply(&self, conn: &mut PgConnection, d: &Delivery) -> Result<(), HandlerError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(HandlerError::retry("projection table missing"));
        }
        if !claim_event(conn, "replay-grouped", d.event.event_id).await? {
            return Ok(());
        }
        sqlx::query("insert into test_effects (event_id) values ($1)")
            .bind(d.event.event_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

/// The consumer had applied the event after all (say its ack was lost, then its retries
/// failed): the replay runs on the handler's path, finds the processed-events row and reports
/// a duplicate — also for a group-committing consumer, whose lanes the replay bypasses.
#[tokio::test]
async fn a_replay_of_an_event_the_consumer_applied_is_a_duplicate_also_when_grouped() {
    let h = Harness::start().await;
    let broken = Arc::new(AtomicBool::new(true));
    let mut grouped = spec("replay-grouped");
    grouped.retry_delays = vec![Duration::from_millis(100)];
    let handler = GroupCommit::spawn(
        "test-replay-groups",
        h.pool.clone(),
        Grouped {
            broken: broken.clone(),
        },
        Lanes::new(1, 8),
        &h.shutdown,
    );
    h.spawn(grouped, handler).await;
    h.spawn_dead_letters(vec!["replay-grouped"]).await;
    let (applied, done_before) = (seller_registered(20), seller_registered(21));
    h.publish(&applied).await;
    h.publish(&done_before).await;
    eventually(Duration::from_secs(10), "two dead letters", || async {
        h.dead_letters().await.len() == 2
    })
    .await;
    broken.store(false, Ordering::SeqCst);
    let mut tx = h.pool.begin().await.expect("tx");
    assert!(claim_event(&mut tx, "replay-grouped", done_before.event_id)
        .await
        .expect("claim"));
    tx.commit().await.expect("commit");
    for letter in h.dead_letters().await {
        let (status, body) = replay(&h, letter.id).await;
        assert_eq!(status, 200, "{body}");
        let expected = if letter.event_id == Some(applied.event_id) {
            "APPLIED"
        } else {
            "DUPLICATE"
        };
        assert_eq!(body["outcome"], expected);
        assert!(body["deadLetter"]["resolvedAt"].is_string());
    }
    assert_eq!(h.effects(applied.event_id).await, 1);
    assert_eq!(h.effects(done_before.event_id).await, 0);
    h.cleanup().await;
}
