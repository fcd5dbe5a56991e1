//! Runs shoppers concurrently until the goal (a duration or a number of payments) is reached,
//! and collects what each payment's confirm answered.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::{
    client::Client,
    journey::{pay, ChaosMix},
    progress::{Counters, Goal},
    reviews::ReviewTally,
    workload::{Market, Mix, PaymentRecord, Shopper},
};

#[derive(Clone)]
pub struct DriveOptions {
    pub shoppers: usize,
    pub goal: Goal,
    pub mix: Mix,
    pub seed: u64,
    /// Share of payments the card network declines for good (a per-order sandbox fault).
    pub decline_rate: f64,
    /// Share of payments whose provider keeps failing for ten tries (retryable errors), so
    /// the recovery job passes the unresolved threshold and must still end SUCCESS.
    pub exhaust_rate: f64,
    /// Share of paid orders the shopper cancels (half of them in part).
    pub cancel_rate: f64,
    /// The chaos run's additions to each payment.
    pub chaos: Option<ChaosMix>,
    /// While set, shoppers go on past a payments goal (the chaos run's faults must all
    /// happen under load).
    pub keep_going: Option<Arc<AtomicBool>>,
}

impl DriveOptions {
    /// One payment's journey with this run's rates and chaos mix.
    pub async fn pay(
        &self,
        shopper: &mut Shopper,
        client: &Client,
        market: &Market,
    ) -> anyhow::Result<PaymentRecord> {
        let rates = (self.decline_rate, self.exhaust_rate, self.cancel_rate);
        pay(shopper, client, market, rates, self.chaos.as_ref()).await
    }
}

pub struct DriveResult {
    pub records: Vec<PaymentRecord>,
    /// Payments that never reached a confirm answer (the client gave up), with the reason.
    pub errors: Vec<String>,
    /// The shoppers' reviews, summed.
    pub reviews: ReviewTally,
    pub elapsed: Duration,
}

pub async fn drive(
    client: Client,
    market: Arc<Market>,
    options: DriveOptions,
    counters: Arc<Counters>,
) -> DriveResult {
    let started = Instant::now();
    let tickets = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for s in 0..options.shoppers {
        let (client, market, options, counters, tickets) = (
            client.clone(),
            market.clone(),
            options.clone(),
            counters.clone(),
            tickets.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut shopper = Shopper::new(1000 + s as i64, options.seed);
            let mut records = Vec::new();
            let mut errors = Vec::new();
            loop {
                let more = match options.goal {
                    Goal::Duration(d) => started.elapsed() < d,
                    Goal::Payments(n) => {
                        tickets.fetch_add(1, Ordering::Relaxed) < n
                            || options
                                .keep_going
                                .as_ref()
                                .is_some_and(|k| k.load(Ordering::Relaxed))
                    }
                };
                if !more {
                    break;
                }
                match options.pay(&mut shopper, &client, &market).await {
                    Ok(record) => {
                        counters.count(Ok(&record.outcome));
                        records.push(record);
                    }
                    Err(e) => {
                        counters.count(Err(()));
                        errors.push(format!("{e:#}"));
                    }
                }
                if let Err(e) = shopper.browse(&client, &market, options.mix).await {
                    errors.push(format!("{e:#}"));
                }
            }
            (records, errors, shopper.tally)
        }));
    }
    let mut result = DriveResult {
        records: Vec::new(),
        errors: Vec::new(),
        reviews: ReviewTally::default(),
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        match worker.await {
            Ok((records, errors, reviews)) => {
                result.records.extend(records);
                result.errors.extend(errors);
                result.reviews.add(&reviews);
            }
            Err(e) => result.errors.push(format!("a shopper task failed: {e}")),
        }
    }
    result.elapsed = started.elapsed();
    result
}
