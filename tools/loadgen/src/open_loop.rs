//! The open-loop load (`bench --rate R`): payments start on a fixed schedule, one every 1/R
//! seconds, whether or not earlier ones have finished. Latency is measured from the scheduled
//! start, so a stall of the system (or of this load generator) shows as latency instead of
//! slowing the arrivals down and hiding itself ("coordinated omission").
//!
//! Each arrival is a fresh shopper (member drawn from a pool) doing what a closed-loop shopper
//! does per payment: checkout → approval → confirm → maybe a cancel, then the browsing mix.

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use crate::{
    client::Client,
    drive::{DriveOptions, DriveResult},
    progress::{Counters, Goal},
    workload::{Market, Shopper},
};

/// More payments in flight than this means the system (or the machine) cannot keep the rate:
/// further arrivals are counted as errors instead of piling up without bound.
const MAX_IN_FLIGHT: usize = 20_000;
/// Members the arrivals are drawn from.
const MEMBERS: u64 = 5_000;

/// When a payment was due to start, and how its start and its confirm went against that.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Scheduled start, since the load began.
    pub due: Duration,
    /// How late the payment actually started (the load generator's own delay).
    pub late: Duration,
    /// Scheduled start → confirm answered (checkout, approval and confirm together).
    pub to_confirm: Duration,
}

pub async fn drive_open(
    client: Client,
    market: Arc<Market>,
    rate: f64,
    options: DriveOptions,
    counters: Arc<Counters>,
) -> DriveResult {
    let Goal::Duration(duration) = options.goal else {
        return DriveResult {
            records: Vec::new(),
            errors: vec!["an open-loop run needs a duration".into()],
            reviews: Default::default(),
            elapsed: Duration::ZERO,
        };
    };
    let started = Instant::now();
    let start = tokio::time::Instant::from_std(started);
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = tokio::task::JoinSet::new();
    let mut result = DriveResult {
        records: Vec::new(),
        errors: Vec::new(),
        reviews: Default::default(),
        elapsed: Duration::ZERO,
    };
    let mut n: u32 = 0;
    loop {
        let due = period * n;
        if due >= duration {
            break;
        }
        tokio::time::sleep_until(start + due).await;
        while let Some(done) = tasks.try_join_next() {
            collect(done, &mut result);
        }
        n += 1;
        if tasks.len() >= MAX_IN_FLIGHT {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            result.errors.push(format!(
                "{MAX_IN_FLIGHT} payments in flight: arrival {n} dropped"
            ));
            continue;
        }
        let (client, market, options, counters) = (
            client.clone(),
            market.clone(),
            options.clone(),
            counters.clone(),
        );
        tasks.spawn(async move {
            let late = started.elapsed().saturating_sub(due);
            let member = 1000 + (u64::from(n) * 7919 % MEMBERS) as i64;
            let mut shopper = Shopper::new(member, options.seed ^ u64::from(n));
            let paid = options.pay(&mut shopper, &client, &market).await;
            let answered = started.elapsed();
            let browsed = shopper.browse(&client, &market, options.mix).await;
            counters.count(paid.as_ref().map(|r| &r.outcome).map_err(|_| ()));
            let paid = paid.map(|mut record| {
                record.schedule = Some(Schedule {
                    due,
                    late,
                    to_confirm: answered.saturating_sub(due),
                });
                record
            });
            (paid, browsed, shopper.tally)
        });
    }
    while let Some(done) = tasks.join_next().await {
        collect(done, &mut result);
    }
    result.elapsed = started.elapsed();
    result
}

type Arrival = (
    anyhow::Result<crate::workload::PaymentRecord>,
    anyhow::Result<()>,
    crate::reviews::ReviewTally,
);

fn collect(done: Result<Arrival, tokio::task::JoinError>, result: &mut DriveResult) {
    match done {
        Ok((paid, browsed, reviews)) => {
            result.reviews.add(&reviews);
            match paid {
                Ok(record) => result.records.push(record),
                Err(e) => result.errors.push(format!("{e:#}")),
            }
            if let Err(e) = browsed {
                result.errors.push(format!("{e:#}"));
            }
        }
        Err(e) => result.errors.push(format!("a payment task failed: {e}")),
    }
}
