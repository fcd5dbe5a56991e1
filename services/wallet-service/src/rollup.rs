//! The rollup job: folds the platform accounts' balance deltas into their balances.
//!
//! A posting to `PSP_CLEARING` or `PLATFORM_FEES` appends its change to
//! `ledger_balance_deltas` instead of updating the account row, so settlements never queue on
//! those two rows (migrations/wallet-service/20261222000001_platform_balance_deltas.sql). This
//! job moves committed deltas into `ledger_accounts.balance`: one statement deletes a batch
//! and adds its sums, so a delta is counted in the balance or in the table, never both and
//! never neither (`ledger_account_balances` adds the two). Several instances may run it:
//! `skip locked` gives each batch to one of them, and only the rollups contend for the rows.

use std::time::Duration;

use service_kit::Shutdown;
use sqlx::PgPool;

/// How often the job folds: often enough that the unfolded table stays small (a few hundred
/// rows at 200 paid orders/s), rarely enough to cost nothing when idle.
pub const INTERVAL: Duration = Duration::from_secs(1);
const BATCH: i64 = 10_000;

/// Folds up to `batch` deltas; returns how many.
pub async fn fold_deltas(pool: &PgPool, batch: i64) -> Result<i64, sqlx::Error> {
    let folded: Option<i64> = sqlx::query_scalar(
        "with d as (
             delete from ledger_balance_deltas
              where id in (select id from ledger_balance_deltas order by id limit $1
                             for update skip locked)
          returning account_id, amount),
         s as (select account_id, sum(amount) as amount, count(*) as n from d group by account_id),
         u as (update ledger_accounts a set balance = a.balance + s.amount
                 from s where a.id = s.account_id returning s.n)
         select sum(n)::bigint from u",
    )
    .bind(batch)
    .fetch_one(pool)
    .await?;
    Ok(folded.unwrap_or(0))
}

/// Spawns the job on the service's shutdown; a full batch is followed by another at once.
pub fn spawn(pool: PgPool, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    shutdown.spawn("ledger-rollup", async move {
        loop {
            let pause = match fold_deltas(&pool, BATCH).await {
                Ok(n) if n >= BATCH => Duration::ZERO,
                Ok(_) => INTERVAL,
                Err(e) => {
                    tracing::warn!(error = %e, "ledger rollup failed; will retry");
                    INTERVAL
                }
            };
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    });
}
