//! Waiting for the system to settle down after a run: no payment line left EXECUTING or
//! UNKNOWN, every outbox row published, every durable consumer caught up, every paid order's
//! wallet settlement recorded, every cancel answered by the PSP and reversed in the wallets.

use std::time::{Duration, Instant};

use events::topology::BUSINESS_STREAMS;

use crate::{
    ledger,
    stack::{producers, Stack},
};

/// What is still in flight; empty when settled.
async fn outstanding(stack: &mut Stack) -> anyhow::Result<Vec<String>> {
    let mut left = Vec::new();
    let order = stack.db("order-service").await?;
    let open = ledger::open_lines(&order).await?;
    if open > 0 {
        left.push(format!("{open} payment lines EXECUTING/UNKNOWN"));
    }
    let unsettled = ledger::paid_not_settled(&order).await?;
    if unsettled > 0 {
        left.push(format!("{unsettled} paid orders without wallet settlement"));
    }
    let cancels = ledger::open_cancels(&order).await?;
    if cancels > 0 {
        left.push(format!("{cancels} cancels REQUESTED/UNKNOWN"));
    }
    let unreversed = ledger::cancels_not_reversed(&order).await?;
    if unreversed > 0 {
        left.push(format!("{unreversed} done cancels without wallet reversal"));
    }
    let wallet = stack.db("wallet-service").await?;
    let parked: i64 = sqlx::query_scalar("select count(*) from pending_reversals")
        .fetch_one(&wallet)
        .await?;
    if parked > 0 {
        left.push(format!("{parked} reversals parked in wallet-service"));
    }
    for service in producers() {
        let db = stack.db(service).await?;
        let unpublished: i64 =
            sqlx::query_scalar("select count(*) from outbox where status <> 'SUCCESS'")
                .fetch_one(&db)
                .await?;
        if unpublished > 0 {
            left.push(format!("{service}: {unpublished} outbox rows unpublished"));
        }
    }
    for def in BUSINESS_STREAMS {
        for info in stack.consumers(&def).await? {
            if info.num_pending > 0 || info.num_ack_pending > 0 {
                left.push(format!(
                    "{}: {} pending, {} unacknowledged",
                    info.name, info.num_pending, info.num_ack_pending
                ));
            }
        }
    }
    Ok(left)
}

/// Polls until nothing is outstanding (twice in a row, 500 ms apart); how long it took.
pub async fn settle(stack: &mut Stack, timeout: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut quiet = 0;
    let mut last_report = Instant::now();
    loop {
        let left = match outstanding(stack).await {
            Ok(left) => left,
            // NATS or a database may be restarting under a chaos run; ask again.
            Err(e) => vec![format!("{e:#}")],
        };
        if left.is_empty() {
            quiet += 1;
            if quiet == 2 {
                return Ok(started.elapsed());
            }
        } else {
            quiet = 0;
            if last_report.elapsed() >= Duration::from_secs(10) {
                eprintln!(
                    "settling ({:.0}s): {}",
                    started.elapsed().as_secs_f64(),
                    left.join("; ")
                );
                last_report = Instant::now();
            }
            if started.elapsed() > timeout {
                anyhow::bail!("not settled after {timeout:?}: {}", left.join("; "));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
