//! Payouts in the chaos run: wallet-service is configured with a commission and a short hold
//! (so sales are released to `available` while the run goes on), the sandbox sends its
//! webhooks to order-service and wallet-service, fails some payouts and duplicates and delays
//! its webhooks; a payout driver beside the shoppers has sellers ask for part of their
//! available money (`POST /api/wallets/sellers/{sellerNo}/payouts` with an Idempotency-Key,
//! some asked again with the same key, a few with the same key and another amount); after the
//! drain, [`drain`] waits until no payout is open. The checks are in [`crate::ledger_checks`].

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use reqwest::Method;
use rust_decimal::{prelude::FromPrimitive, Decimal};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{
    client::{Client, Who},
    stack::{Stack, StackOptions},
    workload::id,
};

/// Commission of every seller in the chaos stack (wallet-service's `FEE_RATE_DEFAULT`).
pub const FEE_RATE: f64 = 0.05;
/// Share of payouts the sandbox settles FAILED (`INVALID_BANK_ACCOUNT`).
const PAYOUT_FAIL_RATE: f64 = 0.1;
/// Share of webhook deliveries POSTed twice.
const WEBHOOK_DUPLICATE_RATE: f64 = 0.3;
/// Each webhook waits a random 0..=this many ms before it is POSTed.
const WEBHOOK_DELAY_MS: u64 = 1500;

/// The wallet-service and sandbox settings payouts need in the chaos stack: commission, a 2 s
/// hold, a quick payout recovery job, and the sandbox's webhooks to both receivers (the
/// `{url:…}` placeholders are the stack's ports, so a restarted sandbox keeps them).
pub fn configure(options: StackOptions) -> StackOptions {
    options
        .set_for("wallet-service", "FEE_RATE_DEFAULT", FEE_RATE)
        .set_for("wallet-service", "SETTLEMENT_HOLD", "2s")
        .set_for("wallet-service", "PSP_TIMEOUT_MS", 2000)
        .set_for("wallet-service", "PAYOUT_RECOVERY_INTERVAL_MS", 1000)
        .set_for("wallet-service", "PAYOUT_LOOKUP_AFTER_MS", 4000)
        .set_for("wallet-service", "PAYOUT_MAX_BACKOFF_MS", 4000)
        .set_for("psp-sandbox", "SANDBOX_PAYOUT_DELAY_MS", 500)
        .set_for(
            "psp-sandbox",
            "SANDBOX_WEBHOOK_URLS",
            "{url:order-service}/webhooks/toss,{url:wallet-service}/webhooks/toss",
        )
}

/// Adds the payout and webhook faults to a body for `PUT /sandbox/faults` (a PUT replaces
/// every global fault, so whoever PUTs must send these too).
pub fn add_sandbox_faults(body: &mut Value) {
    if let Some(map) = body.as_object_mut() {
        map.insert("payoutFailRate".into(), json!(PAYOUT_FAIL_RATE));
        map.insert("webhookDuplicateRate".into(), json!(WEBHOOK_DUPLICATE_RATE));
        map.insert("webhookDelayMs".into(), json!(WEBHOOK_DELAY_MS));
    }
}

/// A KRW amount written as a string or a number.
pub fn dec(v: &Value) -> Option<Decimal> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_i64().map(Decimal::from))
        .or_else(|| v.as_f64().and_then(Decimal::from_f64))
}

/// What the payout driver did and saw.
#[derive(Debug, Default)]
pub struct PayoutLog {
    /// Payouts created (201), by payoutNo, with their seller and amount.
    pub created: BTreeMap<i64, (i64, Decimal)>,
    /// Asked again with the same key and amount: answered 200 with the same payout.
    pub replayed: usize,
    /// Asked again with the same key and another amount: answered 422 IDEMPOTENCY_KEY_REUSED.
    pub reuse_refused: usize,
    /// 422 PAYOUT_EXCEEDS_AVAILABLE (a reversal took the money between the look and the ask).
    pub exceeded: usize,
    /// Looks at a wallet with less than 100 won available.
    pub nothing_available: usize,
    /// Answers that break the API's promises (or requests given up).
    pub wrong: Vec<String>,
}

pub struct PayoutDriver {
    stop: Arc<AtomicBool>,
    task: JoinHandle<PayoutLog>,
}

impl PayoutDriver {
    /// Puts the payout and webhook faults into the sandbox's global faults (merged with what
    /// is set), checks the webhook receivers, and starts asking for payouts.
    pub async fn start(client: Client, sellers: Vec<i64>, seed: u64) -> anyhow::Result<Self> {
        let current = client.get("psp-sandbox", "/sandbox/faults").await?;
        anyhow::ensure!(
            current.status == 200,
            "GET /sandbox/faults: {} {}",
            current.status,
            current.body
        );
        let mut faults = current.body.clone();
        add_sandbox_faults(&mut faults);
        let put = client
            .call(
                "psp-sandbox",
                Method::PUT,
                "/sandbox/faults",
                Some(&faults),
                &[],
            )
            .await?;
        anyhow::ensure!(
            put.status == 200,
            "PUT /sandbox/faults: {} {}",
            put.status,
            put.body
        );
        let hooks = client.get("psp-sandbox", "/sandbox/webhooks").await?;
        let urls = hooks.body["urls"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(urls == 2, "sandbox webhook receivers: {}", hooks.body);
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(drive(client, sellers, seed, stop.clone()));
        Ok(Self { stop, task })
    }

    /// Stops asking (with the shoppers) and answers what was done.
    pub async fn finish(self) -> anyhow::Result<PayoutLog> {
        self.stop.store(true, Ordering::Relaxed);
        Ok(self.task.await?)
    }
}

async fn drive(client: Client, sellers: Vec<i64>, seed: u64, stop: Arc<AtomicBool>) -> PayoutLog {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5041_594f_5554);
    let mut log = PayoutLog::default();
    while !stop.load(Ordering::Relaxed) && !sellers.is_empty() {
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..450))).await;
        let seller = sellers[rng.random_range(0..sellers.len())];
        if let Err(e) = one(&client, &mut rng, seller, &mut log).await {
            log.wrong.push(format!("seller {seller}: {e:#}"));
        }
    }
    log
}

async fn ask(
    client: &Client,
    seller: i64,
    key: &str,
    amount: Decimal,
) -> anyhow::Result<crate::client::Answer> {
    client
        .call_as(
            Who::Seller(seller),
            "wallet-service",
            Method::POST,
            &format!("/api/wallets/sellers/{seller}/payouts"),
            Some(&json!({ "amount": amount.to_string() })),
            &[("Idempotency-Key", key)],
        )
        .await
}

/// One look at a seller's wallet and, if there is money, a payout of 10–50 % of it; 20 % are
/// asked again with the same key, 5 % with the same key and another amount.
async fn one(
    client: &Client,
    rng: &mut SmallRng,
    seller: i64,
    log: &mut PayoutLog,
) -> anyhow::Result<()> {
    let wallet = client
        .get_as(
            Who::Seller(seller),
            "wallet-service",
            &format!("/api/wallets/sellers/{seller}"),
        )
        .await?;
    if wallet.status == 404 {
        log.nothing_available += 1;
        return Ok(());
    }
    anyhow::ensure!(
        wallet.status == 200,
        "wallet: {} {}",
        wallet.status,
        wallet.body
    );
    let available = dec(&wallet.body["available"]).context("wallet available")?;
    let share = rng.random_range(0.1..0.5);
    let (again, reuse) = (rng.random_bool(0.2), rng.random_bool(0.05));
    if available < Decimal::from(100) {
        log.nothing_available += 1;
        return Ok(());
    }
    let amount = (available * Decimal::from_f64(share).unwrap_or_default())
        .floor()
        .max(Decimal::ONE);
    let key = format!("lg-payout-{}", uuid::Uuid::new_v4().simple());
    let first = ask(client, seller, &key, amount).await?;
    let payout = match (first.status, first.code().as_str()) {
        // 200: the client's own retry of a request whose first answer was lost.
        (201 | 200, _) => id(&first.body["payoutNo"])?,
        (422, "PAYOUT_EXCEEDS_AVAILABLE") => {
            log.exceeded += 1;
            return Ok(());
        }
        _ => anyhow::bail!("payout of {amount}: {} {}", first.status, first.body),
    };
    log.created.insert(payout, (seller, amount));
    if again {
        let replay = ask(client, seller, &key, amount).await?;
        match id(&replay.body["payoutNo"]) {
            Ok(no) if replay.status == 200 && no == payout => log.replayed += 1,
            _ => log.wrong.push(format!(
                "payout {payout} asked again with its key: {} {}",
                replay.status, replay.body
            )),
        }
    }
    if reuse {
        let other = ask(client, seller, &key, amount + Decimal::ONE).await?;
        if other.status == 422 && other.code() == "IDEMPOTENCY_KEY_REUSED" {
            log.reuse_refused += 1;
        } else {
            log.wrong.push(format!(
                "payout {payout}'s key with another amount: {} {}",
                other.status, other.body
            ));
        }
    }
    Ok(())
}

/// Open payouts (REQUESTED, SENT, UNKNOWN) in wallet-service.
pub async fn open_payouts(stack: &mut Stack) -> anyhow::Result<i64> {
    let wallet = stack.db("wallet-service").await?;
    Ok(sqlx::query_scalar(
        "select count(*) from payouts where status in ('REQUESTED', 'SENT', 'UNKNOWN')",
    )
    .fetch_one(&wallet)
    .await?)
}

/// Waits until no payout is open and the sandbox has no `payout.changed` webhook left to
/// deliver; how long it took.
pub async fn drain(stack: &mut Stack, timeout: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let open = open_payouts(stack).await?;
        let sandbox = stack.db("psp-sandbox").await?;
        let hooks: i64 = sqlx::query_scalar(
            "select count(*) from webhook_deliveries where signed and status = 'PENDING'",
        )
        .fetch_one(&sandbox)
        .await?;
        if open == 0 && hooks == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            anyhow::bail!(
                "after {timeout:?}: {open} payouts open, {hooks} payout webhooks undelivered"
            );
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "payouts draining ({:.0}s): {open} open, {hooks} payout webhooks undelivered",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The payouts lines of the summary: what the driver did, how the payouts ended, the
/// sandbox's webhook deliveries and its payout and webhook faults at the end.
pub async fn print(stack: &mut Stack, client: &Client, log: &PayoutLog, drain: Option<Duration>) {
    let wallet = match stack.db("wallet-service").await {
        Ok(db) => db,
        Err(e) => {
            println!("\npayouts: {e:#}");
            return;
        }
    };
    let by_status: Vec<(String, i64, Decimal)> = sqlx::query_as(
        "select status, count(*), coalesce(sum(amount), 0) from payouts group by 1 order by 1",
    )
    .fetch_all(&wallet)
    .await
    .unwrap_or_default();
    let by_source: Vec<(String, String, i64)> = sqlx::query_as(
        "select to_status, source, count(*) from payout_history
          where to_status in ('COMPLETED', 'FAILED') group by 1, 2 order by 1, 2",
    )
    .fetch_all(&wallet)
    .await
    .unwrap_or_default();
    println!(
        "\npayouts: {} requested, {} asked again with the same key (same payout), {} refused for another amount with a used key, {} refused above available, {} looks at < 100 won available; drained {}",
        log.created.len(),
        log.replayed,
        log.reuse_refused,
        log.exceeded,
        log.nothing_available,
        drain.map_or("no".into(), |d| format!("in {:.1} s", d.as_secs_f64()))
    );
    for (status, n, amount) in by_status {
        println!("  {n:>6}  {status} ({amount} won)");
    }
    let sources: Vec<String> = by_source
        .iter()
        .map(|(to, source, n)| format!("{to} by {source} {n}"))
        .collect();
    println!("  settled: {}", sources.join(", "));
    if let Ok(sandbox) = stack.db("psp-sandbox").await {
        let deliveries: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "select event_type, status, count(*), count(*) filter (where attempts > 1)
               from webhook_deliveries group by 1, 2 order by 1, 2",
        )
        .fetch_all(&sandbox)
        .await
        .unwrap_or_default();
        let deliveries: Vec<String> = deliveries
            .iter()
            .map(|(e, s, n, retried)| format!("{e} {s} {n} ({retried} retried)"))
            .collect();
        println!("  webhook deliveries: {}", deliveries.join(", "));
    }
    if let Ok(faults) = client.get("psp-sandbox", "/sandbox/faults").await {
        let f = &faults.body;
        println!(
            "  sandbox faults at the end: payoutFailRate {}, webhookDuplicateRate {}, webhookDelayMs {}",
            f["payoutFailRate"], f["webhookDuplicateRate"], f["webhookDelayMs"]
        );
    }
}
