//! `paymsa-loadgen chaos`: thousands of payments while the sandbox injects timeouts and
//! errors, cards are declined, some providers keep failing until the recovery job gives up,
//! every service is SIGKILLed once and restarted, nats-server is restarted and poison events
//! are published; then the ledger invariants. Everything random comes from `--seed`, so a
//! failing run can be repeated.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rand::{rngs::SmallRng, seq::SliceRandom, Rng, SeedableRng};
use reqwest::Method;
use serde_json::json;

use crate::{
    args::Args,
    client::Client,
    drive::{drive, DriveOptions},
    invariants::check_all,
    poison::{self, Poison},
    progress::{Counters, Goal, Progress},
    settle::settle,
    stack::{Broker, Stack, StackOptions},
    workload::{open_market, Mix},
};

pub const OPTIONS: &[&str] = &["payments", "shoppers", "seed", "bin-dir", "keep"];

/// The eight services; the sandbox stands for the card network and keeps its state in memory,
/// so it is not killed.
const KILLABLE: [&str; 8] = [
    "catalog-service",
    "seller-service",
    "wallet-service",
    "order-service",
    "hot-catalog-service",
    "catalog-review-service",
    "catalog-like-service",
    "order-query-service",
];

const POISONED: [&str; 5] = [
    "order.payment.confirmed",
    "wallet.settled",
    "like.product.liked",
    "review.product.created",
    "seller.registered",
];

/// One scheduled fault: when (a share of the payments done) and what.
enum Fault {
    Kill(&'static str, Duration),
    RestartNats(Duration),
    Poison(&'static str),
    SandboxMode { approve_before_timeout: bool },
}

fn log(started: Instant, what: String) {
    eprintln!("\n[{:>6.1}s] {what}", started.elapsed().as_secs_f64());
}

pub async fn run(args: &Args) -> anyhow::Result<bool> {
    let payments: u64 = args.get("payments", 5000)?;
    let shoppers: usize = args.get("shoppers", 16)?;
    let seed: u64 = args.get("seed", 42)?;
    let mut rng = SmallRng::seed_from_u64(seed);

    let broker = Broker::single().await?;
    let mut options = StackOptions::new(args.bin_dir())
        .set("DB_MAX_CONNECTIONS", 5)
        .set_for("order-service", "PSP_TIMEOUT_MS", 1000)
        .set_for("order-service", "RECOVERY_INTERVAL_MS", 500)
        .set_for("order-service", "RECOVERY_STALE_MS", 3000)
        .set_for("psp-sandbox", "SANDBOX_SEED", seed)
        .set_for("psp-sandbox", "SANDBOX_ERROR_RATE", 0.05)
        .set_for("psp-sandbox", "SANDBOX_ERROR_CODE", "PROVIDER_ERROR")
        .set_for("psp-sandbox", "SANDBOX_TIMEOUT_RATE", 0.03)
        .set_for("psp-sandbox", "SANDBOX_TIMEOUT_MS", 1500)
        .set_for("psp-sandbox", "SANDBOX_APPROVE_BEFORE_TIMEOUT", true);
    options.rust_log = "info".into();
    options.keep = args.get("keep", false)?;
    eprintln!("chaos: {payments} payments, {shoppers} shoppers, seed {seed}");
    let mut stack = Stack::start(options, broker).await?;
    eprintln!("logs: {}", stack.log_dir.display());
    let outcome = chaos(&mut stack, &mut rng, payments, shoppers, seed).await;
    stack.stop().await;
    outcome
}

async fn chaos(
    stack: &mut Stack,
    rng: &mut SmallRng,
    payments: u64,
    shoppers: usize,
    seed: u64,
) -> anyhow::Result<bool> {
    let client = Client::for_stack(stack, Duration::from_secs(120));
    let market = Arc::new(open_market(&client, &stack.namespace, 5, 8, seed).await?);

    // The schedule: each service killed once, at shuffled points between 5 % and 85 % of the
    // payments, down for 0.2–3 s; NATS restarted once; five poisons; the sandbox switches from
    // "a timed-out confirm still charges" to "it does not" half-way.
    let mut kills = KILLABLE.to_vec();
    kills.shuffle(rng);
    let mut schedule: Vec<(f64, Fault)> = kills
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            (
                0.05 + 0.1 * i as f64,
                Fault::Kill(s, Duration::from_millis(rng.random_range(200..3000))),
            )
        })
        .collect();
    schedule.push((
        rng.random_range(0.3..0.7),
        Fault::RestartNats(Duration::from_millis(rng.random_range(500..2500))),
    ));
    for subject in POISONED {
        schedule.push((rng.random_range(0.1..0.9), Fault::Poison(subject)));
    }
    schedule.push((
        0.5,
        Fault::SandboxMode {
            approve_before_timeout: false,
        },
    ));
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));

    let counters = Arc::new(Counters::default());
    let progress = Progress::start("chaos", Goal::Payments(payments), counters.clone());
    let options = DriveOptions {
        shoppers,
        goal: Goal::Payments(payments),
        mix: Mix::USUAL,
        seed,
        decline_rate: 0.02,
        exhaust_rate: 0.005,
    };
    let started = Instant::now();
    let load = tokio::spawn(drive(client.clone(), market, options, counters.clone()));
    let mut poisons: Vec<Poison> = Vec::new();
    for (at, fault) in schedule {
        while (counters.done() as f64) < at * payments as f64 && !load.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match fault {
            Fault::Kill(service, down) => {
                stack.kill(service, 0).await?;
                log(
                    started,
                    format!("SIGKILL {service}; restarting after {down:?}"),
                );
                tokio::time::sleep(down).await;
                stack.restart(service, 0).await?;
                log(started, format!("{service} ready again"));
            }
            Fault::RestartNats(down) => {
                stack.broker.kill(0).await?;
                log(
                    started,
                    format!("nats-server killed; restarting after {down:?}"),
                );
                tokio::time::sleep(down).await;
                stack.broker.restart(0).await?;
                log(started, "nats-server ready again".into());
            }
            Fault::Poison(subject) => {
                let n = poisons.len();
                // JetStream may still be electing after the restart; try for a while.
                let mut tries = 0;
                let poison = loop {
                    match poison::inject(stack, subject, n).await {
                        Ok(p) => break p,
                        Err(e) if tries < 20 => {
                            tries += 1;
                            log(
                                started,
                                format!("poison on {subject} not published yet: {e:#}"),
                            );
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        Err(e) => return Err(e),
                    }
                };
                log(
                    started,
                    format!(
                        "poison event on {subject} ({} consumers read it)",
                        poison.consumers.len()
                    ),
                );
                poisons.push(poison);
            }
            Fault::SandboxMode {
                approve_before_timeout,
            } => {
                let body = json!({
                    "errorRate": 0.05, "errorCode": "PROVIDER_ERROR", "timeoutRate": 0.03,
                    "timeoutMs": 1500, "approveBeforeTimeout": approve_before_timeout,
                });
                client
                    .call(
                        "psp-sandbox",
                        Method::PUT,
                        "/sandbox/faults",
                        Some(&body),
                        &[],
                    )
                    .await?;
                log(
                    started,
                    format!(
                        "sandbox: timed-out confirms now {}",
                        if approve_before_timeout {
                            "charge"
                        } else {
                            "do not charge"
                        }
                    ),
                );
            }
        }
    }
    let driven = load.await?;
    progress.finish();
    eprintln!(
        "{} payments answered in {:.1}s, {} gave up; settling down",
        driven.records.len(),
        driven.elapsed.as_secs_f64(),
        driven.errors.len()
    );
    for e in driven.errors.iter().take(10) {
        eprintln!("  client error: {e}");
    }
    let took = settle(stack, Duration::from_secs(240)).await?;
    eprintln!("settled {:.1}s after the load", took.as_secs_f64());
    let checks = check_all(stack, &client, &poisons).await?;
    crate::summary::print_chaos(&driven, &checks);
    Ok(checks.all_hold() && driven.errors.is_empty())
}
