//! Runs shoppers concurrently until the goal (a duration or a number of payments) is reached,
//! and collects what each payment's confirm answered.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{
    client::Client,
    progress::{Counters, Goal},
    workload::{Market, Mix, Outcome, PaymentRecord, Shopper},
};

#[derive(Clone)]
pub struct DriveOptions {
    pub shoppers: usize,
    pub goal: Goal,
    pub mix: Mix,
    pub seed: u64,
    /// Share of payments the card network declines for good (a per-order sandbox fault).
    pub decline_rate: f64,
    /// Share of payments whose provider keeps failing (retryable errors on every attempt),
    /// so the recovery job gives up after the threshold and the payment FAILS.
    pub exhaust_rate: f64,
}

pub struct DriveResult {
    pub records: Vec<PaymentRecord>,
    /// Payments that never reached a confirm answer (the client gave up), with the reason.
    pub errors: Vec<String>,
    pub elapsed: Duration,
}

/// The per-order fault of a declined card.
fn decline() -> Value {
    json!({ "mode": "error", "errorCode": "REJECT_CARD_PAYMENT", "times": 1 })
}

/// A provider error on the confirm and on every retry the recovery job makes (threshold 5).
fn exhaust() -> Value {
    json!({ "mode": "error", "errorCode": "PROVIDER_ERROR", "times": 10 })
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
                    Goal::Payments(n) => tickets.fetch_add(1, Ordering::Relaxed) < n,
                };
                if !more {
                    break;
                }
                let fault = if shopper.chance(options.decline_rate) {
                    Some(decline())
                } else {
                    shopper.chance(options.exhaust_rate).then(exhaust)
                };
                match shopper.pay(&client, &market, fault).await {
                    Ok(record) => {
                        let counter = match &record.outcome {
                            Outcome::Paid => &counters.paid,
                            Outcome::Pending => &counters.pending,
                            Outcome::Declined(_) => &counters.declined,
                            Outcome::Refused(..) => &counters.other,
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        records.push(record);
                    }
                    Err(e) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        errors.push(format!("{e:#}"));
                    }
                }
                if let Err(e) = shopper.browse(&client, &market, options.mix).await {
                    errors.push(format!("{e:#}"));
                }
            }
            (records, errors)
        }));
    }
    let mut result = DriveResult {
        records: Vec::new(),
        errors: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        match worker.await {
            Ok((records, errors)) => {
                result.records.extend(records);
                result.errors.extend(errors);
            }
            Err(e) => result.errors.push(format!("a shopper task failed: {e}")),
        }
    }
    result.elapsed = started.elapsed();
    result
}
