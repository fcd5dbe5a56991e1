//! apply_once: one commit per (consumer, event), rollback on error, safe under races, and a
//! closure that may borrow from its caller.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::Harness;
use messaging::{apply_once, Applied, HandlerError};
use sqlx::PgConnection;
use uuid::Uuid;

async fn insert_effect(conn: &mut PgConnection, event_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("insert into test_effects (event_id) values ($1)")
        .bind(event_id)
        .execute(conn)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn apply_once_commits_once_rolls_back_on_error_and_settles_races() {
    let h = Harness::start().await;
    let runs = AtomicUsize::new(0);
    let label = String::from("borrowed from the caller");
    let (runs_ref, label_ref) = (&runs, label.as_str());
    let apply = |event_id: Uuid| {
        apply_once(&h.pool, "idem", event_id, move |conn| {
            Box::pin(async move {
                runs_ref.fetch_add(1, Ordering::SeqCst);
                insert_effect(conn, event_id).await?;
                sqlx::query("select $1::text")
                    .bind(label_ref)
                    .execute(&mut *conn)
                    .await?;
                Ok(label_ref.len())
            })
        })
    };

    let event = Uuid::now_v7();
    assert_eq!(apply(event).await, Ok(Applied::Done(label.len())));
    assert_eq!(apply(event).await, Ok(Applied::Skipped));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the skipped closure never ran"
    );
    assert_eq!(h.effects(event).await, 1);

    // An error rolls back the effect and the processed record: the retry applies it.
    let failing = Uuid::now_v7();
    let result = apply_once(&h.pool, "idem", failing, |conn| {
        Box::pin(async move {
            insert_effect(conn, failing).await?;
            Err::<(), _>(HandlerError::retry("wallet row locked"))
        })
    })
    .await;
    assert_eq!(result, Err(HandlerError::retry("wallet row locked")));
    assert_eq!(h.effects(failing).await, 0);
    assert_eq!(h.processed("idem", failing).await, 0);
    assert_eq!(apply(failing).await, Ok(Applied::Done(label.len())));

    // Two copies of one event at once (a redelivery racing a slow first attempt): one wins.
    let raced = Uuid::now_v7();
    let (a, b) = tokio::join!(apply(raced), apply(raced));
    let mut outcomes = [a.expect("first"), b.expect("second")];
    outcomes.sort_by_key(Applied::is_skipped);
    assert_eq!(outcomes, [Applied::Done(label.len()), Applied::Skipped]);
    assert_eq!(h.effects(raced).await, 1);

    // Consumers are independent: another durable applies the same event once more.
    let other = apply_once(&h.pool, "idem-other", event, |conn| {
        Box::pin(async move { Ok(insert_effect(conn, event).await?) })
    })
    .await;
    assert_eq!(other, Ok(Applied::Done(())));
    assert_eq!(h.effects(event).await, 2);
    h.cleanup().await;
}
