//! `paymsa-loadgen chaos`: thousands of payments while the sandbox injects timeouts and
//! errors, cards are declined, some providers keep failing for a while, a PSP outage outlasts
//! the old give-up window, wrong paymentKeys come before the right ones, shoppers cancel in
//! full and in part (some cancels time out, some race their confirm and the recovery job),
//! every service — the PSP too — is SIGKILLed once and restarted, nats-server is restarted,
//! and once it forgets (restarted on an older copy of its store); poison events are published;
//! then the ledger invariants, the PSP against order-service, and order-service's own
//! reconciliation. Everything random comes from `--seed`, so a failing run can be repeated.
//! The faults are placed by the share of `--payments` done; if they take longer than the
//! payments, the shoppers go on until the last fault is over, so every fault meets load.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use chrono::Utc;
use rand::{rngs::SmallRng, seq::SliceRandom, Rng, SeedableRng};

use crate::{
    args::ChaosArgs,
    chaos_faults::{Fault, Injector},
    client::Client,
    drive::{drive, DriveOptions},
    invariants::check_all,
    journey::ChaosMix,
    progress::{Counters, Goal, Progress},
    settle::settle,
    stack::{BrokerKind, Stack, StackOptions, SERVICES},
    workload::{open_market, Mix},
};

const POISONED: [&str; 5] = [
    "order.payment.confirmed",
    "wallet.settled",
    "like.product.liked",
    "review.product.created",
    "seller.registered",
];

pub async fn run(args: &ChaosArgs) -> anyhow::Result<bool> {
    let (payments, shoppers, seed, auth) = (args.payments, args.shoppers, args.seed, args.auth);
    let mut rng = SmallRng::seed_from_u64(seed);

    let mut options = StackOptions::new(args.stack.bin_dir.clone())
        .set("DB_MAX_CONNECTIONS", 5)
        .set_for("order-service", "PSP_TIMEOUT_MS", 1000)
        .set_for("order-service", "RECOVERY_INTERVAL_MS", 500)
        .set_for("order-service", "RECOVERY_STALE_MS", 3000)
        // An unknown outcome is looked at again at most 2 s later, however often it was.
        .set_for("order-service", "RECOVERY_MAX_BACKOFF_MS", 2000)
        // A settlement or reversal the broker lost is re-published after 3 s.
        .set_for("order-service", "REDRIVE_AFTER_MS", 3000)
        .set_for("order-service", "RECONCILE_INTERVAL_MS", 5000)
        .set_for("order-service", "RECONCILE_WINDOW_MS", 600_000)
        .set_for("psp-sandbox", "SANDBOX_SEED", seed)
        .set_for("psp-sandbox", "SANDBOX_ERROR_RATE", 0.05)
        .set_for("psp-sandbox", "SANDBOX_ERROR_CODE", "PROVIDER_ERROR")
        .set_for("psp-sandbox", "SANDBOX_TIMEOUT_RATE", 0.03)
        .set_for("psp-sandbox", "SANDBOX_TIMEOUT_MS", 1500)
        .set_for("psp-sandbox", "SANDBOX_APPROVE_BEFORE_TIMEOUT", true);
    options = crate::payouts::configure(options);
    options.rust_log = "info".into();
    options.keep = args.keep;
    options.auth = auth;
    eprintln!(
        "chaos: {payments} payments, {shoppers} shoppers, seed {seed}, AUTH_MODE={}",
        auth.name()
    );
    let mut stack = Stack::start(options, BrokerKind::Single).await?;
    eprintln!("logs: {}", stack.log_dir.display());
    let outcome = chaos(&mut stack, &mut rng, payments, shoppers, seed).await;
    stack.stop().await;
    outcome
}

/// The schedule: each process killed once, at shuffled points between 5 % and 80 % of the
/// payments, down for 0.2–3 s; NATS restarted once; a PSP outage of 8–10 s (10–25 %); the
/// broker's amnesia (a copy of its store taken, restored 3 s later; 35–50 %); five poisons
/// (5–30 %, before the amnesia, so a forgotten delivery cannot count twice); the sandbox
/// switches from "a timed-out confirm still charges" to "it does not" half-way.
fn schedule(rng: &mut SmallRng) -> Vec<(f64, Fault)> {
    // Every process of the stack; the sandbox keeps its state in Postgres, so it is killed too.
    let mut kills: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
    kills.shuffle(rng);
    let mut schedule: Vec<(f64, Fault)> = kills
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            (
                0.05 + 0.085 * i as f64,
                Fault::Kill(s, Duration::from_millis(rng.random_range(200..3000))),
            )
        })
        .collect();
    schedule.push((
        rng.random_range(0.3..0.7),
        Fault::RestartNats(Duration::from_millis(rng.random_range(500..2500))),
    ));
    for subject in POISONED {
        schedule.push((rng.random_range(0.05..0.3), Fault::Poison(subject)));
    }
    schedule.push((
        0.5,
        Fault::SandboxMode {
            approve_before_timeout: false,
        },
    ));
    schedule.push((
        rng.random_range(0.1..0.25),
        Fault::PspOutage(Duration::from_millis(rng.random_range(8000..10_000))),
    ));
    schedule.push((
        rng.random_range(0.35..0.5),
        Fault::Amnesia(Duration::from_secs(3)),
    ));
    schedule.sort_by(|a, b| a.0.total_cmp(&b.0));
    schedule
}

async fn chaos(
    stack: &mut Stack,
    rng: &mut SmallRng,
    payments: u64,
    shoppers: usize,
    seed: u64,
) -> anyhow::Result<bool> {
    let since = Utc::now();
    let client = Client::for_stack(stack, Duration::from_secs(120));
    let market = Arc::new(open_market(&client, &stack.namespace, 5, 8, seed).await?);
    let product = market.products.first().map_or(0, |p| p.no);
    let schedule = schedule(rng);

    let counters = Arc::new(Counters::default());
    let progress = Progress::start("chaos", Goal::Payments(payments), counters.clone());
    let keep_going = Arc::new(AtomicBool::new(true));
    let options = DriveOptions {
        shoppers,
        goal: Goal::Payments(payments),
        mix: Mix::USUAL,
        seed,
        decline_rate: 0.02,
        exhaust_rate: 0.005,
        cancel_rate: 0.08,
        chaos: Some(ChaosMix {
            wrong_key_rate: 0.03,
            timeout_rate: 0.02,
            concurrent_rate: 0.02,
            cancel_fault_rate: 0.25,
        }),
        keep_going: Some(keep_going.clone()),
    };
    let mut injector = Injector::new(client.clone());
    let sellers = market.sellers.clone();
    let load = tokio::spawn(drive(client.clone(), market, options, counters.clone()));
    let payouts = crate::payouts::PayoutDriver::start(client.clone(), sellers, seed).await?;
    for (at, fault) in schedule {
        while (counters.done() as f64) < at * payments as f64 && !load.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        injector.apply(stack, fault).await?;
    }
    keep_going.store(false, Ordering::Relaxed);
    let driven = load.await?;
    let payout_log = payouts.finish().await?;
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
    // Not settling is a finding too: the invariants below say what is left, and where.
    let settled = settle(stack, Duration::from_secs(240)).await;
    let took = match &settled {
        Ok(took) => {
            eprintln!("settled {:.1}s after the load", took.as_secs_f64());
            *took
        }
        Err(e) => {
            eprintln!("{e:#}");
            Duration::from_secs(240)
        }
    };
    let repair = match injector.repair.take() {
        // The watch ends by itself once the repair is complete, settled down or not.
        Some(watch) if settled.is_ok() || watch.is_finished() => Some(watch.await?),
        Some(watch) => {
            watch.abort();
            Some(Err(anyhow::anyhow!(
                "not repaired: the system did not settle"
            )))
        }
        None => None,
    };
    let drained = crate::payouts::drain(stack, Duration::from_secs(120)).await;
    let mut checks = check_all(stack, &client, &injector.poisons, since).await?;
    crate::ledger_checks::check(stack, &client, &payout_log, &mut checks).await?;
    if let Err(e) = &drained {
        checks.add("no payout open after the drain", false, format!("{e:#}"));
    }
    crate::payouts::print(stack, &client, &payout_log, drained.ok()).await;
    if let Err(e) = settled {
        checks.add("settled down after the load", false, format!("{e:#}"));
    }
    crate::client_checks::check(&driven, &mut checks);
    crate::client_checks::amnesia(repair, &mut checks);
    crate::bus_check::forged_event_refused(stack, &mut checks).await;
    crate::auth_check::tokens_required(&client, 1000, product, &mut checks).await;
    crate::summary::print_chaos(&driven, &checks, injector.outage, took);
    Ok(checks.all_hold() && driven.errors.is_empty())
}
