//! The periodic jobs beside the recovery job: reconciliation with the PSP, and the re-drive of
//! unsettled orders and unreversed cancels.
//!
//! Reconciliation runs from where its last successful run ended, less an overlap, not over the
//! whole window each time: until stop 18 every run re-read the last hour of the PSP's
//! transactions, so each run's cost and order-service's memory grew with the hour (+56 % RSS
//! over ten minutes at 60/s, docs/benchmarks.md). The orders a run leaves unresolved (in
//! flight, listed for a person, not read) are carried to the next one and compared again
//! until they match, whatever their time; the overlap covers the PSP's clock against ours and
//! commits that land after a run read. The carried orders live in this process only: a
//! restart forgets them (its first run looks back the window; docs/payments.md says what an
//! operator does). An
//! order refunded long after it was paid is compared when the refund happens
//! (reconcile/late.rs). The window is how far back the first run reaches, and the most any run
//! does after failures.

use std::time::Duration;

use chrono::Utc;
use service_kit::Shutdown;

use crate::{payments::Payments, reconcile::Scope};

/// The most unresolved orders carried from one run to the next; the rest still count in the
/// mismatch gauge of the run that found them, and a window that holds them finds them again.
const CARRIED_AT_MOST: usize = 10_000;

/// The orders the next run compares again, at most [`CARRIED_AT_MOST`].
fn carry(unresolved: std::collections::BTreeSet<String>) -> std::collections::BTreeSet<String> {
    if unresolved.len() > CARRIED_AT_MOST {
        tracing::error!(
            unresolved = unresolved.len(),
            carried = CARRIED_AT_MOST,
            "more unresolved orders than reconciliation carries over"
        );
    }
    unresolved.into_iter().take(CARRIED_AT_MOST).collect()
}

#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    pub reconcile_interval: Duration,
    /// How far back the first run looks (and any run after failed ones, at most).
    pub reconcile_window: Duration,
    /// How far before the last successful run's end the next one starts.
    pub reconcile_overlap: Duration,
    /// Re-drive a paid order or a done cancel not confirmed by the wallet after this long.
    pub redrive_after: Duration,
}

pub fn spawn(payments: Payments, config: JobsConfig, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    let p = payments.clone();
    shutdown.spawn("payment-reconciliation", async move {
        let mut last_to: Option<chrono::DateTime<Utc>> = None;
        let mut carried = std::collections::BTreeSet::new();
        loop {
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(config.reconcile_interval) => {}
            }
            let scope = next_scope(Utc::now(), last_to, std::mem::take(&mut carried), &config);
            let to = scope.to;
            let retry = scope.carried.clone();
            // Only this job sets the gauges: an operator's ad-hoc window on the admin API must
            // not overwrite what the alert watches.
            match p.reconcile(scope).await {
                Ok(mut r) => {
                    last_to = Some(to);
                    carried = carry(std::mem::take(&mut r.unresolved));
                    p.metrics.reconciliation_mismatches.set(r.unrepaired);
                    p.metrics.reconciliation_last_success.set(to.timestamp());
                    if r.mismatches.is_empty() {
                        tracing::debug!(
                            checked = r.checked,
                            on_second_look = r.matched_on_second_look,
                            "reconciliation: all matched"
                        );
                    } else {
                        tracing::warn!(
                            checked = r.checked,
                            on_second_look = r.matched_on_second_look,
                            mismatches = r.mismatches.len(),
                            unrepaired = r.unrepaired,
                            "reconciliation found mismatches"
                        );
                    }
                }
                Err(e) => {
                    // Nothing was compared: the same orders next time.
                    carried = retry;
                    tracing::warn!(error = %e, "reconciliation failed; will retry")
                }
            }
        }
    });
    let stop = shutdown.clone();
    shutdown.spawn("settlement-redrive", async move {
        // Checked a few times per `redrive_after`, so an overdue order waits at most ~1.25×.
        let every = (config.redrive_after / 4).max(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(every) => {}
            }
            match payments
                .redrive_due(config.redrive_after.as_secs_f64(), 100)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::warn!(events = n, "re-drove events the wallet never confirmed"),
                Err(e) => tracing::warn!(error = %e, "re-drive pass failed; will retry"),
            }
        }
    });
}

/// The next periodic run: from the last successful run's end less the overlap (never further
/// back than the window), late refunds from there too, and the orders carried over. The late
/// refunds start there and not at the last end: a refund the PSP timestamped just before it,
/// or a cancel of ours that committed after that run read (its `canceled_at` is its
/// transaction's start), was not visible to that run (found in review). A late refund in the
/// overlap is then looked up twice.
fn next_scope(
    to: chrono::DateTime<Utc>,
    last_to: Option<chrono::DateTime<Utc>>,
    carried: std::collections::BTreeSet<String>,
    config: &JobsConfig,
) -> Scope {
    let from = run_from(to, last_to, config);
    Scope {
        from,
        to,
        late_from: from,
        carried,
    }
}

/// Where a periodic run starts: the last successful run's end less the overlap, but never
/// further back than the window.
fn run_from(
    to: chrono::DateTime<Utc>,
    last_to: Option<chrono::DateTime<Utc>>,
    config: &JobsConfig,
) -> chrono::DateTime<Utc> {
    let window =
        chrono::Duration::from_std(config.reconcile_window).unwrap_or(chrono::Duration::hours(1));
    let overlap = chrono::Duration::from_std(config.reconcile_overlap)
        .unwrap_or(chrono::Duration::minutes(1));
    let earliest = to - window;
    last_to.map_or(earliest, |last| (last - overlap).max(earliest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_starts_at_the_last_end_less_the_overlap_and_never_before_the_window() {
        let config = JobsConfig {
            reconcile_interval: Duration::from_secs(60),
            reconcile_window: Duration::from_secs(3600),
            reconcile_overlap: Duration::from_secs(300),
            redrive_after: Duration::from_secs(60),
        };
        let to = Utc::now();
        let minutes = chrono::Duration::minutes;
        assert_eq!(
            run_from(to, None, &config),
            to - minutes(60),
            "the first run"
        );
        assert_eq!(
            run_from(to, Some(to - minutes(1)), &config),
            to - minutes(6),
            "the next"
        );
        assert_eq!(
            run_from(to, Some(to - minutes(120)), &config),
            to - minutes(60),
            "after an outage"
        );
    }

    #[test]
    fn late_refunds_start_with_the_overlap_and_the_carried_orders_come_along() {
        let config = JobsConfig {
            reconcile_interval: Duration::from_secs(60),
            reconcile_window: Duration::from_secs(3600),
            reconcile_overlap: Duration::from_secs(60),
            redrive_after: Duration::from_secs(60),
        };
        let to = Utc::now();
        let last = to - chrono::Duration::minutes(1);
        let carried = std::collections::BTreeSet::from(["listed".to_string()]);
        let scope = next_scope(to, Some(last), carried.clone(), &config);
        assert_eq!(scope.from, last - chrono::Duration::minutes(1));
        assert_eq!(
            scope.late_from, scope.from,
            "refunds just before the last end"
        );
        assert_eq!((scope.to, scope.carried), (to, carried));
    }
}
