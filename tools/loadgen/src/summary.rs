//! The printed summary of a run: what the shoppers saw, then the invariants.

use std::collections::BTreeMap;

use crate::{drive::DriveResult, invariants::Checks, workload::Outcome};

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
}

pub fn print_chaos(driven: &DriveResult, checks: &Checks) {
    print_outcomes(driven);
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
