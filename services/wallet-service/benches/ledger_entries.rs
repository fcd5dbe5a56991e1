//! The double-entry ledger on its own: how many SALE entries per second it posts, next to the
//! machine's raw Postgres ceiling measured in the same run.
//!
//! In a scratch database (`paymsa_wallet_bench`, dropped and re-created each run, migrated with
//! wallet-service's `SCHEMA`) with 50 sellers, their wallets and their ledger accounts,
//! N tasks (1, 4, 16) post SALE entries for `BENCH_SECONDS` each, one transaction per entry as
//! the settlement consumer commits one per order: the seller's wallet row lock (the ledger's
//! callers hold it), the seller's rate (`fees::rate_for`, default 5 % so every entry has three
//! postings) and `ledger::sales::post`, the function settlement calls. So each commit pays
//! the entry, its postings, the balance triggers of its three accounts, the `ledger_sales` row
//! and the deferred balanced-entry check. The wallet credit itself (`wallet_transactions`, the
//! wallet balance) and the outbox row of settlement are not part of it.
//!
//! The ceiling: the same number of tasks for the same time, each committing transactions of
//! two plain inserts into a scratch table (a debit and a credit, no locks, no triggers).
//!
//! Afterwards it checks the ledger: every entry and all postings sum to 0, the trial balance
//! is 0, every account's balance equals its postings (in its normal direction), and the
//! platform accounts equal Σ gross and Σ fees of the sales. Any failure fails the benchmark
//! (and keeps the database for a look).
//!
//! `cargo bench -p wallet-service --bench ledger_entries`; `BENCH_DATABASE_URL` (server, no
//! database; default `TEST_DATABASE_URL` or postgres://postgres@127.0.0.1:5432),
//! `BENCH_SECONDS` (per run, default 10), `BENCH_KEEP=1` (keep the scratch database).

use std::{
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use rust_decimal::Decimal;
use sqlx::{Connection, PgConnection, PgPool};
use wallet_service::{
    credits::SellerCredits,
    fees,
    ids::{SellerNo, WalletNo},
    ledger::{accounts, sales},
    Credit, SCHEMA,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DATABASE: &str = "paymsa_wallet_bench";
const SELLERS: i64 = 50;
const CONCURRENCY: [usize; 3] = [1, 4, 16];
/// Sales stay pending for the whole run (no release job runs here anyway).
const HOLD: Duration = Duration::from_secs(2 * 24 * 3600);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// 5 %, as the chaos stack runs it: every sale posts to PLATFORM_FEES too.
fn default_rate() -> Decimal {
    Decimal::new(5, 2)
}

/// Line `n`: 1,000 to 90,000 won, to seller 1 + n mod 50 (concurrent tasks take consecutive
/// numbers, so they mostly post for different sellers, as concurrent settlements do).
fn line(n: i64) -> (i64, Decimal) {
    (1 + n % SELLERS, Decimal::from(1_000 + (n % 90) * 1_000))
}

/// One SALE entry in its own transaction, as settlement posts it.
async fn post_sale(pool: &PgPool, n: i64) -> Result<(), BoxError> {
    let (seller_no, gross) = line(n);
    let mut tx = pool.begin().await?;
    // What settlement takes (docs/ledger.md, Locking): the seller's advisory lock, shared, and
    // the wallet's number without a row lock; the sale's postings lock nothing else.
    sqlx::query("select pg_advisory_xact_lock_shared($1)")
        .bind(seller_no)
        .execute(&mut *tx)
        .await?;
    let wallet_no: Option<i64> =
        sqlx::query_scalar("select wallet_no from wallets where seller_no = $1")
            .bind(seller_no)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(wallet_no) = wallet_no else {
        return Err(format!("seller {seller_no} has no wallet").into());
    };
    let rate = fees::rate_for(&mut tx, SellerNo(seller_no), default_rate()).await?;
    let credit = Credit::new(n, n, format!("bench-order-{n}"), n, gross, rate);
    let sale = SellerCredits {
        seller_no: SellerNo(seller_no),
        wallet_no: WalletNo(wallet_no),
        credits: vec![credit],
    };
    sales::post(&mut tx, &[sale], HOLD).await?;
    tx.commit().await?;
    Ok(())
}

/// The ceiling: a transaction of two plain inserts.
async fn raw_pair(pool: &PgPool, n: i64) -> Result<(), BoxError> {
    let (_, gross) = line(n);
    let mut tx = pool.begin().await?;
    for amount in [gross, -gross] {
        sqlx::query("insert into bench_raw (n, amount) values ($1, $2)")
            .bind(n)
            .bind(amount)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Work {
    Ledger,
    Raw,
}

/// `tasks` tasks run `work` back to back until `secs` have passed; returns (transactions
/// committed, seconds from the start until the last one finished).
async fn timed(
    pool: &PgPool,
    work: Work,
    tasks: usize,
    secs: f64,
    next: &Arc<AtomicI64>,
) -> Result<(u64, f64), BoxError> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let (pool, next) = (pool.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut done = 0_u64;
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                match work {
                    Work::Ledger => post_sale(&pool, n).await?,
                    Work::Raw => raw_pair(&pool, n).await?,
                }
                done += 1;
            }
            Ok::<u64, BoxError>(done)
        }));
    }
    let mut total = 0;
    for handle in handles {
        total += handle.await??;
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

async fn count(pool: &PgPool, table: &str) -> Result<i64, BoxError> {
    let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(pool)
        .await?;
    Ok(n)
}

async fn setup(pool: &PgPool) -> Result<(), BoxError> {
    sqlx::query(
        "insert into wallets (wallet_no, seller_no)
         select 900000 + g, g from generate_series(1, $1::bigint) g",
    )
    .bind(SELLERS)
    .execute(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    for seller_no in 1..=SELLERS {
        accounts::for_seller(&mut conn, SellerNo(seller_no)).await?;
    }
    sqlx::query(
        "create table bench_raw (
             id bigint generated always as identity primary key,
             n bigint not null,
             amount numeric(19, 2) not null)",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// One check's outcome, printed; the benchmark fails at the end if any failed.
fn check(ok: bool, what: &str, detail: String, failed: &mut Vec<String>) {
    println!(
        "  [{}] {what:<44} {detail}",
        if ok { " ok " } else { "FAIL" }
    );
    if !ok {
        failed.push(what.to_string());
    }
}

/// The ledger after the runs: balanced, balances = postings, platform accounts = the sales.
async fn verify(pool: &PgPool, posted: u64) -> Result<Vec<String>, BoxError> {
    let mut failed = Vec::new();
    let mut conn = pool.acquire().await?;
    let (entries, postings): (i64, i64) = sqlx::query_as(
        "select (select count(*) from ledger_entries where kind = 'SALE'),
                (select count(*) from ledger_postings)",
    )
    .fetch_one(&mut *conn)
    .await?;
    check(
        entries == posted as i64 && postings == 3 * entries,
        "every committed entry is there, 3 postings each",
        format!("{posted} committed, {entries} SALE entries, {postings} postings"),
        &mut failed,
    );
    let (unbalanced, total): (i64, Decimal) = sqlx::query_as(
        "select (select count(*) from (select entry_id from ledger_postings group by entry_id
                                        having sum(amount) <> 0) u),
                (select coalesce(sum(amount), 0) from ledger_postings)",
    )
    .fetch_one(&mut *conn)
    .await?;
    check(
        unbalanced == 0 && total.is_zero(),
        "every entry's postings sum to 0",
        format!("{unbalanced} unbalanced entries; Σ all postings {total}"),
        &mut failed,
    );
    // The service's own trial balance (GET /admin/ledger/trial-balance sums the same rows).
    let kinds = accounts::trial_balance(&mut conn).await?;
    let net: Decimal = kinds.iter().map(|k| k.debits - k.credits).sum();
    let debits: Decimal = kinds.iter().map(|k| k.debits).sum();
    let credits: Decimal = kinds.iter().map(|k| k.credits).sum();
    let kinds_agree = kinds.iter().all(|k| {
        let sign = if k.kind.is_debit_normal() {
            Decimal::ONE
        } else {
            Decimal::NEGATIVE_ONE
        };
        k.balance == sign * (k.debits - k.credits)
    });
    check(
        net.is_zero() && debits == credits && kinds_agree,
        "trial balance is 0",
        format!(
            "Σ debits {debits} = Σ credits {credits}, total {net}; {}",
            kinds
                .iter()
                .map(|k| format!("{} {}", k.kind, k.balance))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        &mut failed,
    );
    let (accounts_n, off): (i64, i64) = sqlx::query_as(
        "select count(*),
                count(*) filter (where a.balance <> ledger_normal_sign(a.kind) * coalesce(p.sum, 0))
           from ledger_account_balances a
           left join (select account_id, sum(amount) as sum from ledger_postings
                       group by account_id) p on p.account_id = a.id",
    )
    .fetch_one(&mut *conn)
    .await?;
    check(
        off == 0,
        "every account's balance = its postings",
        format!("{accounts_n} accounts (PSP_CLEARING Σ, others −Σ), {off} differ"),
        &mut failed,
    );
    let (gross, fee_sum, clearing, platform, pending): (
        Decimal,
        Decimal,
        Decimal,
        Decimal,
        Decimal,
    ) = sqlx::query_as(
        "select (select coalesce(sum(gross), 0) from ledger_sales),
                    (select coalesce(sum(fee), 0) from ledger_sales),
                    (select balance from ledger_account_balances where kind = 'PSP_CLEARING'),
                    (select balance from ledger_account_balances where kind = 'PLATFORM_FEES'),
                    (select coalesce(sum(balance), 0) from ledger_account_balances
                      where kind = 'SELLER_PENDING')",
    )
    .fetch_one(&mut *conn)
    .await?;
    check(
        clearing == gross && platform == fee_sum && pending == gross - fee_sum,
        "PSP_CLEARING = Σ gross, PLATFORM_FEES = Σ fees",
        format!("gross {gross}, fees {fee_sum}, sellers pending {pending}"),
        &mut failed,
    );
    Ok(failed)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let server = env_or(
        "BENCH_DATABASE_URL",
        &env_or("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432"),
    );
    let secs: f64 = env_or("BENCH_SECONDS", "10").parse()?;
    let server = server.trim_end_matches('/');
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query(&format!("drop database if exists {DATABASE} with (force)"))
        .execute(&mut admin)
        .await?;
    let url = url::Url::parse(&format!("{server}/{DATABASE}"))?;
    let max_tasks = CONCURRENCY.into_iter().max().unwrap_or(1);
    let pool =
        service_kit::db::connect_and_migrate(&url, max_tasks as u32, &SCHEMA.migrators()).await?;
    setup(&pool).await?;
    let (ledger_next, raw_next) = (Arc::new(AtomicI64::new(1)), Arc::new(AtomicI64::new(1)));

    // Opens every connection and prepares the statements on each, for both kinds of work.
    let (mut posted, _) = timed(&pool, Work::Ledger, max_tasks, 1.0, &ledger_next).await?;
    timed(&pool, Work::Raw, max_tasks, 1.0, &raw_next).await?;

    let server_version: String = sqlx::query_scalar("show server_version")
        .fetch_one(&pool)
        .await?;
    println!(
        "ledger entries: {SELLERS} sellers, SALE entries at fee rate {} (3 postings each), one \
         transaction per entry; {secs} s per run; Postgres {server_version}",
        default_rate()
    );
    println!(
        "{:>5}  {:>10}  {:>11}  {:>12}  {:>13}  {:>11}",
        "tasks", "entries/s", "postings/s", "ms per entry", "raw 2-write", "ledger/raw"
    );
    for tasks in CONCURRENCY {
        let postings_before = count(&pool, "ledger_postings").await?;
        let (entries, elapsed) = timed(&pool, Work::Ledger, tasks, secs, &ledger_next).await?;
        posted += entries;
        let postings = count(&pool, "ledger_postings").await? - postings_before;
        let (raw, raw_elapsed) = timed(&pool, Work::Raw, tasks, secs, &raw_next).await?;
        let rate = entries as f64 / elapsed;
        let raw_rate = raw as f64 / raw_elapsed;
        println!(
            "{tasks:>5}  {rate:>10.0}  {:>11.0}  {:>12.2}  {:>9.0} tx/s  {:>11.2}",
            postings as f64 / elapsed,
            elapsed * 1000.0 * tasks as f64 / entries as f64,
            raw_rate,
            rate / raw_rate
        );
    }
    println!("(raw 2-write: a transaction of two plain inserts into a scratch table, same tasks and time)");

    println!("ledger after {posted} entries:");
    let failed = verify(&pool, posted).await?;
    pool.close().await;
    if !failed.is_empty() {
        return Err(format!(
            "ledger checks failed: {}; database {DATABASE} kept for a look",
            failed.join("; ")
        )
        .into());
    }
    if env_or("BENCH_KEEP", "0") != "1" {
        sqlx::query(&format!("drop database {DATABASE} with (force)"))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    Ok(())
}
