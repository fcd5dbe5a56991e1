//! `paymsa-loadgen bench`: the whole system under load for a fixed time, then the machine's
//! ceilings in the same run, reported side by side (`docs/bench/`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;

use crate::{
    args::BenchArgs,
    cancel::CancelKind,
    ceilings,
    client::Client,
    drive::{drive, DriveOptions},
    lags,
    open_loop::drive_open,
    pg_profile::{self, ActivitySampler, PgProfile},
    progress::{Counters, Goal, Progress},
    report::{BenchReport, ServiceUsage},
    report_open::{OpenLoop, OtherCpu, RssSampler},
    settle::settle,
    stack::{Broker, BrokerKind, Stack, StackOptions},
    workload::{open_market, Mix, Outcome},
};

/// Share of paid orders the shoppers cancel (half of them in part).
const CANCEL_RATE: f64 = 0.05;

/// Connections of the Postgres ceiling: what the busiest service's pool may hold, times two.
const CEILING_CONNECTIONS: u32 = 16;

/// The documented settings the bench's options set for the services, over the environment's.
pub fn set_by_the_bench(
    consumer_concurrency: usize,
    worker_threads: usize,
    webhooks: bool,
) -> Vec<&'static str> {
    let mut set = vec!["DB_MAX_CONNECTIONS"];
    if worker_threads > 0 {
        set.push("WORKER_THREADS");
    }
    if consumer_concurrency > 0 {
        set.push("CONSUMER_CONCURRENCY");
    }
    if webhooks {
        set.push("SANDBOX_WEBHOOK_URLS");
    }
    set
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<bool> {
    let duration = Duration::from_secs(args.duration);
    let (shoppers, seed, db_connections) = (args.shoppers, args.seed, args.db_connections);
    let out = &args.out;

    eprintln!(
        "starting nats-server and the 9 services from {} ({})",
        args.stack.bin_dir.display(),
        crate::inherited::sentence(&set_by_the_bench(
            args.consumer_concurrency,
            args.worker_threads,
            args.webhooks
        ))
    );
    // 0: each consumer's own setting; otherwise every consumer of every service.
    let concurrency = args.consumer_concurrency;
    let mut options =
        StackOptions::new(args.stack.bin_dir.clone()).set("DB_MAX_CONNECTIONS", db_connections);
    for (i, (service, _)) in args.db_connections_for.iter().enumerate() {
        if args.db_connections_for[..i]
            .iter()
            .any(|(s, _)| s == service)
        {
            anyhow::bail!("--db-connections-for names {service} twice");
        }
    }
    for (service, pool) in &args.db_connections_for {
        options = options.set_for(service, "DB_MAX_CONNECTIONS", pool);
    }
    if concurrency > 0 {
        options = options.set("CONSUMER_CONCURRENCY", concurrency);
    }
    if args.worker_threads > 0 {
        options = options.set("WORKER_THREADS", args.worker_threads);
    }
    if args.webhooks {
        options = options.set_for(
            "psp-sandbox",
            "SANDBOX_WEBHOOK_URLS",
            "{url:order-service}/webhooks/toss,{url:wallet-service}/webhooks/toss",
        );
    }
    options.auth = args.auth;
    let mut stack = Stack::start(options, BrokerKind::Single).await?;
    let client = Client::for_stack(&stack, Duration::from_secs(10));
    let result = measure(
        &mut stack,
        &client,
        args,
        duration,
        shoppers,
        seed,
        db_connections,
    )
    .await;
    let namespace = stack.namespace.clone();
    stack.stop().await;
    let mut report = result?;
    report.consumer_concurrency = concurrency;
    report.worker_threads = args.worker_threads;
    report.db_connections_for = args.db_connections_for.clone();
    report.webhooks = args.webhooks;

    // The ceilings once the system is stopped, so neither side takes the other's CPU or
    // connections: the same Postgres server, a fresh nats-server started the same way.
    eprintln!(
        "measuring the ceilings: Postgres two-write commits, JetStream async publish (10 s each)"
    );
    let server = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let window = Duration::from_secs(10);
    report.pg_commits_per_s =
        ceilings::postgres_two_write(&server, &namespace, CEILING_CONNECTIONS, window).await?;
    // No services connect to this one, so it needs no users.
    let broker = Broker::single(None).await?;
    report.js_publish_per_s =
        ceilings::jetstream_publish(&broker.urls().join(","), &namespace, 256, window).await?;
    report.print();
    report.write(out)?;
    eprintln!("written: {out}/results.md, {out}/confirm-latency.svg");
    Ok(report.errors == 0)
}

async fn measure(
    stack: &mut Stack,
    client: &Client,
    args: &BenchArgs,
    duration: Duration,
    shoppers: usize,
    seed: u64,
    db_connections: u32,
) -> anyhow::Result<BenchReport> {
    let (sellers, products) = (args.sellers, args.products);
    eprintln!("opening the market: {sellers} sellers × {products} products (onboarding saga)");
    let market = Arc::new(open_market(client, &stack.namespace, sellers, products, seed).await?);

    let cpu_before: Vec<f64> = stack.instances.iter().map(|i| i.cpu_seconds()).collect();
    let transactions_before = lags::transactions(stack).await?;
    let server = stack.server_db().await?;
    let commits_before = pg_profile::commits_by_database(&server, &stack.namespace).await?;
    let since = Utc::now();
    let counters = Arc::new(Counters::default());
    let progress = Progress::start("bench", Goal::Duration(duration), counters.clone());
    let options = DriveOptions {
        shoppers,
        goal: Goal::Duration(duration),
        mix: Mix::USUAL,
        seed,
        decline_rate: 0.0,
        exhaust_rate: 0.0,
        cancel_rate: CANCEL_RATE,
        chaos: None,
        keep_going: None,
    };
    let rate = args.rate;
    let others_before = OtherCpu::now();
    let pids: Vec<(String, Option<u32>)> = stack
        .instances
        .iter()
        .map(|i| (i.label(), i.pid()))
        .collect();
    let rss = RssSampler::start(pids, Duration::from_secs(60));
    let activity =
        ActivitySampler::start(server.clone(), &stack.namespace, Duration::from_millis(100));
    let statements_counted = crate::pg_statements::reset(&server).await;
    let started = Instant::now();
    let driven = if rate > 0.0 {
        drive_open(client.clone(), market, rate, options, counters).await
    } else {
        drive(client.clone(), market, options, counters).await
    };
    let rss = rss.finish().await;
    let activity = activity.finish().await;
    progress.finish();
    eprintln!(
        "load stopped after {:.1}s; waiting for settlement, projection and ranking to drain",
        driven.elapsed.as_secs_f64()
    );
    let drain = settle(stack, Duration::from_secs(300)).await?;
    let end_to_end = started.elapsed();
    stack.sample();
    let wall = end_to_end.as_secs_f64();
    let others = others_before.since(wall);
    let mut usage: Vec<ServiceUsage> = stack
        .instances
        .iter()
        .zip(cpu_before)
        .map(|(i, before)| ServiceUsage {
            label: i.label(),
            peak_rss_mib: i.peak_rss_mib(),
            cpu_percent: (i.cpu_seconds() - before) / wall * 100.0,
        })
        .collect();
    usage.extend(others);
    let lags = lags::measure(stack, since).await?;
    let events = lags::events_since(stack, since).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await; // let the statistics catch up
    let (all, psp) = lags::transactions(stack).await?;
    let (transactions, psp_transactions) =
        (all - transactions_before.0, psp - transactions_before.1);
    let mut commits = pg_profile::commits_by_database(&server, &stack.namespace).await?;
    for (db, n) in commits.iter_mut() {
        *n -= commits_before.get(db).copied().unwrap_or(0);
    }
    let autovacuum = pg_profile::autovacuum(&server).await;
    let statements = if statements_counted {
        // A profile that cannot be read leaves the rest of the report as it is.
        crate::pg_statements::read(&server, &stack.namespace)
            .await
            .map_err(|e| eprintln!("statement costs not read: {e:#}"))
            .ok()
    } else {
        None
    };
    let pg = PgProfile {
        commits,
        activity,
        autovacuum,
        statements,
    };

    let mut confirm = crate::stats::Latencies::default();
    let mut cancel = crate::stats::Latencies::default();
    let (mut paid, mut cancels, mut partial) = (0u64, 0u64, 0u64);
    let mut open = OpenLoop::default();
    for r in &driven.records {
        if r.outcome == Outcome::Paid {
            paid += 1;
            confirm.push(r.confirm_latency);
            open.record(r);
        }
        for c in r.cancels.iter().filter(|c| c.status == 200) {
            cancels += 1;
            partial += u64::from(c.kind == CancelKind::Partial);
            cancel.push(c.latency);
        }
    }
    for e in driven.errors.iter().take(5) {
        eprintln!("error: {e}");
    }
    let open = (rate > 0.0).then(|| open.finish(rate, &lags, rss));
    Ok(BenchReport {
        duration,
        open,
        shoppers,
        db_connections,
        db_connections_for: Vec::new(),
        consumer_concurrency: 0,
        worker_threads: 0,
        webhooks: false,
        payments: driven.records.len() as u64,
        paid,
        errors: driven.errors.len() as u64,
        load_seconds: driven.elapsed.as_secs_f64(),
        drain_seconds: drain.as_secs_f64(),
        end_to_end_seconds: wall,
        events,
        transactions,
        psp_transactions,
        pg,
        confirm,
        cancel,
        cancels,
        partial_cancels: partial,
        settlement: lags.settlement,
        projection: lags.projection,
        usage,
        pg_commits_per_s: 0.0,
        js_publish_per_s: 0.0,
    })
}
