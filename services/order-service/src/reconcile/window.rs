//! What one reconciliation run covers ([`Scope`]) and its read of the PSP's transactions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::{Ledger, ReconcileError};
use crate::payments::Payments;

/// What one run compares: the orders charged in `[from, to]` (their later cancels included),
/// the orders refunded since `late_from` whose charge is older, and `carried`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Refunds of orders paid before the window are looked up from here on (the window's
    /// start, for the periodic job and the admin API alike).
    pub late_from: DateTime<Utc>,
    /// Orders the previous run left unresolved (in flight, listed, not read): compared
    /// whatever their time (jobs.rs).
    pub carried: BTreeSet<String>,
}

impl Scope {
    /// An operator's window (the admin API): everything in it, nothing carried.
    pub fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            from,
            to,
            late_from: from,
            carried: BTreeSet::new(),
        }
    }
}

/// The PSP's transactions from the window's start until now, folded per order.
pub(super) struct PspRead {
    pub ledgers: BTreeMap<String, Ledger>,
    pub charged_in_window: BTreeSet<String>,
    /// Orders with a refund between `late_from` and `to`.
    pub refunded_since: BTreeSet<String>,
}

/// A transaction's time: Toss answers `2024-02-13T12:18:14+09:00`; a time without an offset is
/// Korea Standard Time.
fn transaction_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            // `%.f`: Toss writes whole seconds, but a fraction must not lose the transaction
            NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| (t - Duration::hours(9)).and_utc())
        })
}

/// The PSP takes and answers Korea Standard Time without an offset.
fn kst(t: DateTime<Utc>) -> NaiveDateTime {
    (t + Duration::hours(9)).naive_utc()
}

impl Payments {
    /// Every transaction from the window's start until now, page by page (never held whole).
    pub(super) async fn read_psp(&self, scope: &Scope) -> Result<PspRead, ReconcileError> {
        let mut read = PspRead {
            ledgers: BTreeMap::new(),
            charged_in_window: BTreeSet::new(),
            refunded_since: BTreeSet::new(),
        };
        // Whole seconds: the PSP's times have no fractions.
        let second = Duration::seconds(1);
        let (from_s, to_s, late_s) = (
            scope.from - second,
            scope.to + second,
            scope.late_from - second,
        );
        // A time we cannot read counts as inside: the page came from the PSP's query of this
        // span, and an orphan charge left out of the comparison is what reconciliation is for.
        let within = |at: Option<DateTime<Utc>>, from: DateTime<Utc>| {
            at.is_none_or(|at| at >= from && at <= to_s)
        };
        self.psp
            .transactions(kst(scope.from) - second, kst(Utc::now()) + second, |t| {
                let at = transaction_time(&t.transaction_at);
                if at.is_none() {
                    tracing::warn!(order_id = %t.order_id, transaction_at = %t.transaction_at,
                        "a PSP transaction's time is unreadable; compared as inside the window");
                }
                // An order first seen after the run's end is the next run's (a run catching up
                // after an outage ends before now): keeping it would hold every order of the
                // gap in memory at once (found in review). Orders of the span keep folding
                // in their later transactions, so both sides compare as of now.
                if at.is_some_and(|at| at > to_s) && !read.ledgers.contains_key(&t.order_id) {
                    return;
                }
                let entry = read.ledgers.entry(t.order_id.clone()).or_default();
                match t.status.as_str() {
                    "DONE" => {
                        entry.charged += t.amount;
                        if within(at, from_s) {
                            read.charged_in_window.insert(t.order_id.clone());
                        }
                    }
                    "CANCELED" | "PARTIAL_CANCELED" => {
                        entry.refunded += t.amount;
                        if within(at, late_s) {
                            read.refunded_since.insert(t.order_id.clone());
                        }
                    }
                    // ABORTED, WAITING_FOR_DEPOSIT, …: no money moved.
                    _ => {}
                }
                entry.status = t.status;
            })
            .await?;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_times_with_and_without_an_offset_are_the_same_instant() {
        let with = transaction_time("2024-02-13T12:18:14+09:00");
        let without = transaction_time("2024-02-13T12:18:14");
        assert!(with.is_some());
        assert_eq!(with, without);
        assert_eq!(transaction_time("yesterday"), None);
        assert_eq!(
            transaction_time("2024-02-13T12:18:14.250"),
            with.map(|t| t + Duration::milliseconds(250)),
            "a fraction without an offset"
        );
    }
}
