//! The rollup job: folds balance deltas into the balances they belong to.
//!
//! A posting to `PSP_CLEARING` or `PLATFORM_FEES`, or a sale's credit to a seller's
//! `SELLER_PENDING`, appends its change to `ledger_balance_deltas` instead of updating the
//! account row, so settlements never queue on those rows (migrations/wallet-service/
//! 20261222000001_platform_balance_deltas.sql, 20261223000001_seller_sale_deltas.sql). This
//! job moves committed deltas into the balances: the platform's in one statement that deletes
//! a batch and adds its sums, so a delta is counted in the balance or in the table, never both
//! and never neither (`ledger_account_balances` adds the two); a seller's with
//! `ledger_fold_seller`, which also moves `wallets.balance`, for the sellers whose wallet row
//! it can lock at once (`skip locked`: a seller busy with a reversal, release or payout is
//! folded by that writer, or on the next pass). Several instances may run it: `skip locked`
//! gives each batch and each wallet to one of them.

use std::time::Duration;

use service_kit::{JobPasses, Shutdown};
use sqlx::PgPool;

/// How often the job folds: often enough that the unfolded table stays small (a few hundred
/// rows at 200 paid orders/s), rarely enough to cost nothing when idle.
pub const INTERVAL: Duration = Duration::from_secs(1);
const BATCH: i64 = 10_000;

/// Folds up to `batch` platform deltas and the deltas of up to `batch` sellers; returns how
/// many platform deltas and sellers it folded.
pub async fn fold_deltas(pool: &PgPool, batch: i64) -> Result<i64, sqlx::Error> {
    Ok(fold_platform(pool, batch).await? + fold_sellers(pool, batch).await?)
}

async fn fold_sellers(pool: &PgPool, batch: i64) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let folded = sqlx::query_scalar!(
        r#"with s as (select distinct a.seller_no from ledger_balance_deltas d
                      join ledger_accounts a on a.id = d.account_id
                     where a.seller_no is not null order by a.seller_no limit $1),
              locked as (select w.seller_no from wallets w join s on s.seller_no = w.seller_no
                          order by w.seller_no for no key update of w skip locked)
         select count(ledger_fold_seller(seller_no)) as "folded!" from locked"#,
        batch,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(folded)
}

async fn fold_platform(pool: &PgPool, batch: i64) -> Result<i64, sqlx::Error> {
    let folded = sqlx::query_scalar!(
        "with d as (
             delete from ledger_balance_deltas
              where id in (select d.id from ledger_balance_deltas d
                             join ledger_accounts a on a.id = d.account_id
                            where a.seller_no is null
                            order by d.id limit $1
                              for update of d skip locked)
          returning account_id, amount),
         s as (select account_id, sum(amount) as amount, count(*) as n from d group by account_id),
         u as (update ledger_accounts a set balance = a.balance + s.amount
                 from s where a.id = s.account_id returning s.n)
         select sum(n)::bigint from u",
        batch,
    )
    .fetch_one(pool)
    .await?;
    Ok(folded.unwrap_or(0))
}

/// Spawns the job on the service's shutdown; a full batch is followed by another at once.
pub fn spawn(pool: PgPool, passes: JobPasses, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    shutdown.spawn("ledger-rollup", async move {
        loop {
            let folded = fold_deltas(&pool, BATCH).await;
            if folded.is_ok() {
                passes.passed();
            }
            let pause = match folded {
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
