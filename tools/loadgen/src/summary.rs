//! The printed summary of a run: what the shoppers saw, then the invariants.

use std::{collections::BTreeMap, time::Duration};

use crate::{drive::DriveResult, invariants::Checks, stats::Latencies, workload::Outcome};

pub fn print_outcomes(driven: &DriveResult) {
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for r in &driven.records {
        let key = match &r.outcome {
            Outcome::Paid => "200 SUCCESS".to_string(),
            Outcome::Pending => "202 UNKNOWN (left to the recovery job)".to_string(),
            Outcome::Declined(code) => format!("422 {code}"),
            Outcome::Refused(status, code) => format!("{status} {code}"),
        };
        *by_outcome.entry(key).or_default() += 1;
    }
    println!(
        "\npayments: {} confirms answered, {} requests given up by the client",
        driven.records.len(),
        driven.errors.len()
    );
    for (outcome, n) in by_outcome {
        println!("  {n:>6}  {outcome}");
    }
    let mut wrong: BTreeMap<String, usize> = BTreeMap::new();
    let mut cancels: BTreeMap<String, usize> = BTreeMap::new();
    let (mut confirm, mut cancel) = (Latencies::default(), Latencies::default());
    for r in &driven.records {
        if r.outcome == Outcome::Paid {
            confirm.push(r.confirm_latency);
        }
        if let Some((status, code)) = &r.wrong_key {
            *wrong.entry(format!("{status} {code}")).or_default() += 1;
        }
        for c in &r.cancels {
            *cancels.entry(c.label()).or_default() += 1;
            if c.status == 200 {
                cancel.push(c.latency);
            }
        }
    }
    if !wrong.is_empty() {
        println!("wrong paymentKey first, answered:");
        for (answer, n) in wrong {
            println!("  {n:>6}  {answer}");
        }
    }
    if !cancels.is_empty() {
        println!("cancels:");
        for (answer, n) in cancels {
            println!("  {n:>6}  {answer}");
        }
    }
    let r = &driven.reviews;
    println!(
        "reviews (of products the shopper paid for): {} created ({} after 403 PURCHASE_REQUIRED \
         while the purchase event was on its way; {} such answers), {} 409 REVIEW_EXISTS (an \
         earlier attempt's), {} deleted, {} skipped (nothing paid and unreviewed yet)",
        r.created, r.created_after_wait, r.purchase_waits, r.exists, r.deleted, r.nothing_to_review
    );
    println!(
        "latency ms (p50 / p95 / p99 / max): confirm 200 {}; cancel 200 {}",
        confirm.summary(),
        cancel.summary()
    );
}

pub fn print_chaos(
    driven: &DriveResult,
    checks: &Checks,
    outage: Option<Duration>,
    drain: Duration,
) {
    print_outcomes(driven);
    println!(
        "load {:.1} s, drain {:.1} s; PSP outage {}",
        driven.elapsed.as_secs_f64(),
        drain.as_secs_f64(),
        outage.map_or("none".into(), |d| format!("{:.1} s", d.as_secs_f64()))
    );
    checks.print();
    println!(
        "\nchaos: {}",
        if checks.all_hold() && driven.errors.is_empty() {
            "all invariants hold"
        } else {
            "VIOLATED"
        }
    );
}
