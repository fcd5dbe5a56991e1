//! The handle's transaction ([`outbox::OutboxTx`]): what is appended through the handle
//! leaves on the commit alone, with no sweep to wait for; a commit with nothing appended
//! through the handle wakes nobody; an uncommitted one leaves nothing behind.

mod common;

use std::time::Duration;

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

    // Appended through the handle: the commit wakes the relay, which publishes both.
    let mut tx = outbox.begin(&env.pool).await.expect("begin");
    outbox
        .append(&mut tx, 3, &envelope(3), &[])
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    let took = env
        .wait_for_status("SUCCESS", 2, Duration::from_secs(3))
        .await
        .expect("published after the commit");
    assert!(
        took < Duration::from_secs(1),
        "commit to SUCCESS took {took:?}"
    );
    assert_eq!(env.stream_message_count().await, 2);

    shutdown.trigger();
    env.cleanup().await;
}
