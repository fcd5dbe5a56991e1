//! The handle's transaction ([`outbox::OutboxTx`]): what is appended through the handle
//! leaves on the commit alone, with no sweep to wait for; a commit with nothing appended
//! through the handle wakes nobody; an uncommitted one leaves nothing behind.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{fast_config, metric_reaches, TestEnv};
use events::{Envelope, SellerRegistered};
use outbox::Outbox;

fn envelope(seller_no: i64) -> Envelope<SellerRegistered> {
    Envelope::new(SellerRegistered {
        seller_no,
        seller_id: format!("seller-{seller_no}"),
    })
}

#[tokio::test]
async fn an_event_appended_through_the_handle_leaves_on_commit() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let mut config = fast_config();
    // No sweep during the test: only a nudge can publish.
    config.sweep_interval = Duration::from_secs(3600);
    config.sweep_after = Duration::from_secs(3600);
    let (nudge, metrics, shutdown) = env.spawn_relay(config);
    assert!(
        metric_reaches(&metrics, "outbox_owned_shards", 4.0, Duration::from_secs(5)).await,
        "the relay never took the 4 shards"
    );
    // Taking the shards starts a publish pass of its own; let it finish on the empty table.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outbox = Outbox::new((*env.writer).clone(), nudge);

    // Rolled back (dropped uncommitted): nothing stays.
    let mut tx = outbox.begin(&env.pool).await.expect("begin");
    outbox
        .append(&mut tx, 1, &envelope(1), &[])
        .await
        .expect("append");
    drop(tx);
    // A row written beside the handle commits without a nudge: it waits for the sweep.
    let mut tx = outbox.begin(&env.pool).await.expect("begin");
    env.writer
        .append(&mut tx, 2, &envelope(2), &[])
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.count_with_status("INIT").await, 1);
    assert_eq!(env.stream_message_count().await, 0);

    // Appended through the handle: the commit wakes the relay for the shard appended in
    // (shard 0; the row beside the handle is in shard 2 and still waits).
    assert_eq!((outbox::shard_key(3, 4), outbox::shard_key(2, 4)), (0, 2));
    let mut tx = outbox.begin(&env.pool).await.expect("begin");
    outbox
        .append(&mut tx, 3, &envelope(3), &[])
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    let took = env
        .wait_for_status("SUCCESS", 1, Duration::from_secs(3))
        .await
        .expect("published after the commit");
    assert!(
        took < Duration::from_secs(1),
        "commit to SUCCESS took {took:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.count_with_status("INIT").await, 1);

    // An append in shard 2 wakes the relay for it: both rows there leave.
    assert_eq!(outbox::shard_key(42, 4), 2);
    let mut tx = outbox.begin(&env.pool).await.expect("begin");
    outbox
        .append(&mut tx, 42, &envelope(42), &[])
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    env.wait_for_status("SUCCESS", 3, Duration::from_secs(3))
        .await
        .expect("the nudged shard published");
    assert_eq!(env.stream_message_count().await, 3);

    shutdown.trigger();
    env.cleanup().await;
}

/// A nudged pass looks at the nudged shards only, so the sweep must still run while nudges
/// keep coming, or a row no nudge announces (a retry come due, another instance's row) in a
/// quiet shard would wait as long as the traffic lasts; and a sweep, which leaves fresh rows
/// alone, must not swallow the nudges it ran between.
#[tokio::test]
async fn the_sweep_still_runs_while_nudges_keep_coming() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let mut config = fast_config();
    // Fresh rows are the nudges' alone: the sweep (every 200 ms) takes only rows an hour old.
    config.sweep_after = Duration::from_secs(3600);
    let (nudge, metrics, shutdown) = env.spawn_relay(config);
    assert!(
        metric_reaches(&metrics, "outbox_owned_shards", 4.0, Duration::from_secs(5)).await,
        "the relay never took the 4 shards"
    );
    let outbox = Outbox::new((*env.writer).clone(), nudge);

    // Commits in shard 0, back to back, from a task of their own; stopped between commits
    // (an abort could fall between a commit and its nudge).
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (outbox, pool, stop) = (outbox.clone(), env.pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let Ok(mut tx) = outbox.begin(&pool).await else {
                    continue;
                };
                // All in shard 0 (shard_key(3, 4)): a nudge for it is nearly always pending.
                if outbox
                    .append(&mut tx, 3, &envelope(1_000_000 + n), &[])
                    .await
                    .is_ok()
                {
                    let _ = tx.commit().await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Written beside the handle in shard 2 and aged past `sweep_after`: only the sweep can
    // publish it.
    let mut tx = env.pool.begin().await.expect("begin");
    let quiet = env
        .writer
        .append(&mut tx, 2, &envelope(2), &[])
        .await
        .expect("append");
    sqlx::query("update outbox set created_at = now() - interval '2 hours' where id = $1")
        .bind(quiet)
        .execute(&mut *tx)
        .await
        .expect("age the row");
    tx.commit().await.expect("commit");
    let published = common::wait_until(Duration::from_secs(5), || async {
        env.status_of(quiet).await.as_deref() == Some("SUCCESS")
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    busy.await.expect("the traffic task");
    assert!(
        published.is_some(),
        "the row in the quiet shard waited out the traffic"
    );
    // Every row the traffic committed left by its nudge, sweeps or not.
    let left = common::wait_until(Duration::from_secs(3), || async {
        env.count_with_status("INIT").await == 0
    })
    .await;
    assert!(
        left.is_some(),
        "rows left behind: {:?}",
        env.statuses().await
    );
    shutdown.trigger();
    env.cleanup().await;
}
