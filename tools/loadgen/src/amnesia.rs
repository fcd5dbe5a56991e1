//! A broker that forgets: the JetStream store is copied during the load (the server paused
//! for the copy, so it is crash-consistent), a few seconds later nats-server is killed, its
//! store replaced by that copy and the server started again. Events acknowledged in between
//! are gone — order.payment.confirmed, wallet.settled, order.payment.canceled, consumer acks.
//! Each producer's outbox notices at its next publish (a stream sequence given out again,
//! libs/outbox/src/store.rs `requeue_lost`) and publishes the lost rows again, so every
//! consumer gets them; order-service's re-drive from Postgres completes the money flows too. The watch
//! measures how long it takes until every order paid (and every cancel done) before the
//! restart is settled (reversed) again.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{anyhow, Context};
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::stack::Stack;

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

async fn copy(from: PathBuf, to: PathBuf) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || copy_dir(&from, &to))
        .await?
        .context("copying the JetStream store")
}

/// Copies the broker's store; returns where the copy is.
pub async fn snapshot(stack: &mut Stack) -> anyhow::Result<PathBuf> {
    let store = stack
        .broker
        .store_dir()
        .ok_or_else(|| anyhow!("amnesia needs a single nats-server"))?;
    let copy_to = std::env::temp_dir().join(format!(
        "paymsa-nats-snapshot-{}",
        uuid::Uuid::new_v4().simple()
    ));
    stack.broker.pause(true).await?;
    let copied = copy(store, copy_to.clone()).await;
    stack.broker.pause(false).await?;
    copied?;
    Ok(copy_to)
}

/// Kills nats-server, puts the snapshot in place of its store, and starts it again.
pub async fn forget(stack: &mut Stack, snapshot: &Path) -> anyhow::Result<()> {
    let store = stack
        .broker
        .store_dir()
        .ok_or_else(|| anyhow!("amnesia needs a single nats-server"))?;
    stack.broker.kill(0).await?;
    std::fs::remove_dir_all(&store).context("removing the JetStream store")?;
    copy(snapshot.to_path_buf(), store).await?;
    let _ = std::fs::remove_dir_all(snapshot);
    stack.broker.restart(0).await
}

/// How the broker's loss was repaired.
pub struct Repair {
    /// From the restart until every order paid before it is settled and every cancel done
    /// before it is reversed.
    pub took: Duration,
    /// Paid orders and done cancels not settled / reversed when the broker came back.
    pub unsettled_at_restart: i64,
}

async fn unsettled(
    order: &PgPool,
    paid_before: &[i64],
    cancels_before: &[i64],
) -> sqlx::Result<i64> {
    let orders: i64 = sqlx::query_scalar(
        "select count(*) from payment_events
          where payment_event_no = any($1) and not is_wallet_done",
    )
    .bind(paid_before)
    .fetch_one(order)
    .await?;
    let cancels: i64 = sqlx::query_scalar(
        "select count(*) from payment_cancels where cancel_no = any($1) and not is_wallet_done",
    )
    .bind(cancels_before)
    .fetch_one(order)
    .await?;
    Ok(orders + cancels)
}

/// Starts watching right after the restart; the task ends when the repair is complete (or
/// fails after `timeout`).
pub async fn watch(
    order: PgPool,
    timeout: Duration,
) -> anyhow::Result<JoinHandle<anyhow::Result<Repair>>> {
    let started = Instant::now();
    let paid_before: Vec<i64> =
        sqlx::query_scalar("select payment_event_no from payment_events where is_payment_done")
            .fetch_all(&order)
            .await?;
    let cancels_before: Vec<i64> =
        sqlx::query_scalar("select cancel_no from payment_cancels where status = 'DONE'")
            .fetch_all(&order)
            .await?;
    let at_restart = unsettled(&order, &paid_before, &cancels_before).await?;
    Ok(tokio::spawn(async move {
        loop {
            match unsettled(&order, &paid_before, &cancels_before).await {
                Ok(0) => {
                    return Ok(Repair {
                        took: started.elapsed(),
                        unsettled_at_restart: at_restart,
                    })
                }
                Ok(n) if started.elapsed() > timeout => {
                    return Err(anyhow!(
                        "{n} orders/cancels still unsettled after {timeout:?}"
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }))
}
