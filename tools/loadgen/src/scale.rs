//! `paymsa-loadgen scale`: three instances each of order-, wallet- and hot-catalog-service on
//! a 3-node NATS cluster (R3 streams). Under load it checks that the instances share the
//! consumers' work, SIGKILLs one instance of each and checks the outbox shards move to the
//! survivors, kills a NATS node, and at the end checks the ledger invariants: nothing lost.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::{
    args::ScaleArgs,
    client::Client,
    drive::{drive, DriveOptions},
    invariants::{check_all, Checks},
    progress::{Counters, Goal, Progress},
    settle::settle,
    stack::{BrokerKind, Stack, StackOptions},
    workload::{open_market, Mix},
};

/// Outbox shards per producing service (4 by default, docs/architecture.md §5).
const SHARDS: f64 = 4.0;

/// Sum of a Prometheus metric's samples whose line contains `labels`.
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(labels)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(stack: &Stack, service: &str, name: &str, labels: &str) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for i in stack
        .instances
        .iter()
        .filter(|i| i.service == service && i.is_running())
    {
        let text = match stack.http.get(format!("{}/metrics", i.url())).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        out.push((i.index, metric(&text, name, labels)));
    }
    out
}

pub async fn run(args: &ScaleArgs) -> anyhow::Result<bool> {
    let (payments, shoppers, seed) = (args.payments, args.shoppers, args.seed);
    eprintln!("scale: starting a 3-node NATS cluster");
    let mut options = StackOptions::new(args.stack.bin_dir.clone()).set("DB_MAX_CONNECTIONS", 4);
    options.auth = args.auth;
    options.instances = HashMap::from([
        ("order-service", 3),
        ("wallet-service", 3),
        ("hot-catalog-service", 3),
    ]);
    let mut stack = Stack::start(options, BrokerKind::Cluster).await?;
    eprintln!(
        "scale: {} processes up; logs in {}",
        stack.instances.len(),
        stack.log_dir.display()
    );
    let outcome = scale(&mut stack, payments, shoppers, seed).await;
    stack.stop().await;
    outcome
}

async fn scale(
    stack: &mut Stack,
    payments: u64,
    shoppers: usize,
    seed: u64,
) -> anyhow::Result<bool> {
    let since = chrono::Utc::now();
    let client = Client::for_stack(stack, Duration::from_secs(120));
    let market = Arc::new(open_market(&client, &stack.namespace, 4, 6, seed).await?);
    let counters = Arc::new(Counters::default());
    let progress = Progress::start("scale", Goal::Payments(payments), counters.clone());
    let options = DriveOptions {
        shoppers,
        goal: Goal::Payments(payments),
        mix: Mix::USUAL,
        seed,
        decline_rate: 0.0,
        exhaust_rate: 0.0,
        cancel_rate: 0.05,
        chaos: None,
        keep_going: None,
    };
    let started = Instant::now();
    let load = tokio::spawn(drive(client.clone(), market, options, counters.clone()));
    let reach = |share: f64| {
        let counters = counters.clone();
        async move {
            while (counters.done() as f64) < share * payments as f64 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let mut extra = Checks::default();

    reach(0.3).await;
    let settled = scrape(
        stack,
        "wallet-service",
        "paymsa_consumer_messages_total",
        "consumer=\"wallet-settlement\",outcome=\"ack\"",
    )
    .await;
    let ranked = scrape(
        stack,
        "hot-catalog-service",
        "paymsa_consumer_messages_total",
        "consumer=\"hot-catalog-orders\",outcome=\"ack\"",
    )
    .await;
    let shards = scrape(stack, "order-service", "paymsa_outbox_owned_shards", "").await;
    let shared = |v: &[(usize, f64)]| v.len() == 3 && v.iter().all(|(_, n)| *n > 0.0);
    extra.add(
        "3 instances share each consumer's work",
        shared(&settled) && shared(&ranked),
        format!(
            "wallet-settlement acks per instance {settled:?}; hot-catalog-orders acks {ranked:?}"
        ),
    );
    let owned: f64 = shards.iter().map(|(_, n)| n).sum();
    extra.add(
        "outbox shards split over 3 order-service instances",
        owned == SHARDS && shards.iter().all(|(_, n)| *n >= 1.0),
        format!("owned shards per instance {shards:?}"),
    );

    for service in ["order-service", "wallet-service", "hot-catalog-service"] {
        stack.kill(service, 1).await?;
    }
    let killed = Instant::now();
    eprintln!(
        "\n[{:>6.1}s] SIGKILL order-service#1, wallet-service#1, hot-catalog-service#1",
        started.elapsed().as_secs_f64()
    );
    let rebalanced = loop {
        let shards = scrape(stack, "order-service", "paymsa_outbox_owned_shards", "").await;
        let owned: f64 = shards.iter().map(|(_, n)| n).sum();
        if owned == SHARDS || killed.elapsed() > Duration::from_secs(60) {
            break (shards, killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let owned: f64 = rebalanced.0.iter().map(|(_, n)| n).sum();
    extra.add(
        "outbox shards move to the survivors",
        owned == SHARDS && rebalanced.0.len() == 2,
        format!(
            "after {:.1}s: owned shards per surviving instance {:?}",
            rebalanced.1.as_secs_f64(),
            rebalanced.0
        ),
    );

    reach(0.6).await;
    stack.broker.kill(2).await?;
    eprintln!(
        "\n[{:>6.1}s] SIGKILL NATS node n2 (left down)",
        started.elapsed().as_secs_f64()
    );

    let driven = load.await?;
    progress.finish();
    let took = settle(stack, Duration::from_secs(240)).await?;
    eprintln!("settled {:.1}s after the load", took.as_secs_f64());
    let after = scrape(
        stack,
        "wallet-service",
        "paymsa_consumer_messages_total",
        "consumer=\"wallet-settlement\",outcome=\"ack\"",
    )
    .await;
    extra.add(
        "survivors carried on after the kills",
        after.iter().all(|(i, n)| {
            *n > settled
                .iter()
                .find(|(j, _)| j == i)
                .map_or(0.0, |(_, m)| *m)
        }),
        format!("wallet-settlement acks per surviving instance at the end {after:?}"),
    );
    let mut checks = check_all(stack, &client, &[], since).await?;
    checks
        .0
        .retain(|c| c.name != "each poison event dead-lettered exactly once");
    checks.0.extend(extra.0);
    crate::summary::print_outcomes(&driven);
    checks.print();
    let ok = checks.all_hold() && driven.errors.is_empty();
    println!(
        "\nscale: {}",
        if ok { "all checks hold" } else { "VIOLATED" }
    );
    Ok(ok)
}
