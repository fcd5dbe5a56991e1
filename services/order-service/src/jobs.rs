//! The periodic jobs beside the recovery job: reconciliation with the PSP, and the re-drive of
//! unsettled orders and unreversed cancels.
//!
//! Reconciliation runs from where its last successful run ended, less an overlap, not over the
//! whole window each time: until stop 18 every run re-read the last hour of the PSP's
//! transactions, so each run's cost and order-service's memory grew with the hour (+56 % RSS
//! over ten minutes at 60/s, docs/benchmarks.md). The orders a run leaves unresolved (in
//! flight, listed for a person, not read) are carried to the next one and compared again
//! until they match, whatever their time; the overlap covers the PSP's clock against ours and
//! commits that land after a run read. One instance runs at a time, under a lease in the
//! database, and the run's end and carried orders are written there in its commit
//! (store/reconciliation.rs): the next run starts from them on whichever instance leads, and a
//! restart forgets nothing (until stop 23 every instance ran, and kept its own in memory). An
//! order refunded long after it was paid is compared when the refund happens
//! (reconcile/late.rs). The window is how far back the first run reaches, and the most any run
//! does after failures.

use std::time::Duration;

use chrono::Utc;
use service_kit::{JobPasses, Shutdown};

use crate::{payments::Payments, reconcile::Scope, store};

#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    pub reconcile_interval: Duration,
    /// How far back the first run looks (and any run after failed ones, at most).
    pub reconcile_window: Duration,
    /// How far before the last successful run's end the next one starts.
    pub reconcile_overlap: Duration,
    /// The most unresolved orders a run carries to the next. A run that leaves more is not
    /// recorded: the next compares its span again. Until stop 31 the rest were dropped, and
    /// once the window moved on no run compared them again (a charge we never recorded among
    /// them stayed so); now `PaymsaReconciliationStale` says the runs do not get through.
    pub reconcile_carried_max: usize,
    /// Re-drive a paid order or a done cancel not confirmed by the wallet after this long.
    pub redrive_after: Duration,
}

pub fn spawn(payments: Payments, config: JobsConfig, redrives: JobPasses, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    let p = payments.clone();
    shutdown.spawn("payment-reconciliation", async move {
        // Node ids are unique among running instances (the snowflake ids need it), and a
        // restarted instance takes back the lease its predecessor held.
        let holder = format!("node-{}", p.ids.node_id());
        // At start too: a gauge left at 0 until the first run would page the stale alert
        // on every restart of a healthy stack.
        report_progress(&p).await;
        loop {
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(config.reconcile_interval) => {}
            }
            reconcile_if_leading(&p, &holder, &config).await;
            report_progress(&p).await;
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
            let passed = payments
                .redrive_due(config.redrive_after.as_secs_f64(), 100)
                .await;
            if passed.is_ok() {
                redrives.passed();
            }
            match passed {
                Ok(0) => {}
                Ok(n) => tracing::warn!(events = n, "re-drove events the wallet never confirmed"),
                Err(e) => tracing::warn!(error = %e, "re-drive pass failed; will retry"),
            }
        }
    });
}

/// Every instance reports the shared progress: the alert takes the max by service, and a
/// follower must not keep a figure from when it last led.
async fn report_progress(p: &Payments) {
    match p.pool.acquire().await {
        Ok(mut conn) => match store::reconciliation::progress(&mut conn).await {
            Ok(progress) => {
                p.metrics.reconciliation_mismatches.set(progress.unrepaired);
                if let Some(to) = progress.last_to {
                    p.metrics.reconciliation_last_success.set(to.timestamp());
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading reconciliation's progress failed"),
        },
        Err(e) => tracing::warn!(error = %e, "reading reconciliation's progress failed"),
    }
}

/// How long a lease lasts without renewal: a crashed leader's turn passes to another instance
/// after this. A running leader renews it every third of it ([`reconcile_if_leading`]).
fn lease_secs(config: &JobsConfig) -> f64 {
    (config.reconcile_interval.as_secs_f64() * 2.0).max(30.0)
}

/// One periodic run, if this instance gets the lease: from where the last run (any
/// instance's) ended, with the orders it carried, to the database's now or a window later
/// ([`run_span`]); its end, carried
/// orders and unrepaired count are written back in one commit (store/reconciliation.rs). The
/// lease is renewed while the run goes on — a slow PSP can make a run outlast it — and a run
/// whose lease another instance took is abandoned.
async fn reconcile_if_leading(p: &Payments, holder: &str, config: &JobsConfig) {
    let leased = async {
        let mut conn = p.pool.acquire().await?;
        let Some(lease) =
            store::reconciliation::lease(&mut conn, holder, lease_secs(config)).await?
        else {
            return Ok(None);
        };
        let carried = store::reconciliation::carried(&mut conn).await?;
        Ok::<_, sqlx::Error>(Some((lease, carried)))
    };
    let (lease, carried) = match leased.await {
        Ok(Some(leased)) => leased,
        Ok(None) => {
            tracing::debug!("reconciliation: another instance leads this run");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "reconciliation could not take its lease; will retry");
            return;
        }
    };
    let scope = next_scope(lease.now, lease.progress.last_to, carried, config);
    let to = scope.to;
    let run = p.reconcile(scope);
    tokio::pin!(run);
    let mut renew = tokio::time::interval(Duration::from_secs_f64(lease_secs(config) / 3.0));
    renew.tick().await; // the first tick is now: the lease was just taken
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            _ = renew.tick() => if let Ok(false) = renew_lease(p, holder, config).await {
                tracing::warn!("reconciliation lost its lease to another instance; run abandoned");
                return;
            },
        }
    };
    let mut report = match result {
        Ok(report) => report,
        Err(e) => {
            // Nothing was compared: the same orders next time, on whichever instance.
            tracing::warn!(error = %e, "reconciliation failed; will retry");
            if let Err(e) = release(p, holder).await {
                tracing::warn!(error = %e, "reconciliation's lease runs out instead");
            }
            return;
        }
    };
    if report.unresolved.len() > config.reconcile_carried_max {
        tracing::error!(
            unresolved = report.unresolved.len(),
            carried_max = config.reconcile_carried_max,
            "reconciliation left more unresolved orders than it carries (RECONCILE_CARRIED_MAX): \
             the run is not recorded, and the next compares its span again"
        );
        if let Err(e) = release(p, holder).await {
            tracing::warn!(error = %e, "reconciliation's lease runs out instead");
        }
        return;
    }
    let carried = std::mem::take(&mut report.unresolved);
    let recorded = async {
        let mut tx = p.pool.begin().await?;
        let held =
            store::reconciliation::finish(&mut tx, holder, to, report.unrepaired, &carried).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(held)
    };
    match recorded.await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("another instance took reconciliation's lease: this run is not recorded")
        }
        // The next run starts from the previous end again and compares these orders once more.
        Err(e) => tracing::warn!(error = %e, "recording the reconciliation run failed"),
    }
    if report.mismatches.is_empty() {
        tracing::debug!(
            checked = report.checked,
            on_second_look = report.matched_on_second_look,
            "reconciliation: all matched"
        );
    } else {
        tracing::warn!(
            checked = report.checked,
            on_second_look = report.matched_on_second_look,
            mismatches = report.mismatches.len(),
            unrepaired = report.unrepaired,
            "reconciliation found mismatches"
        );
    }
}

/// `Ok(false)` when another instance holds the lease now; a database error keeps the run
/// going (the lease may still hold, and `finish` checks).
async fn renew_lease(p: &Payments, holder: &str, config: &JobsConfig) -> Result<bool, ()> {
    let renewed = async {
        let mut conn = p.pool.acquire().await?;
        store::reconciliation::lease(&mut conn, holder, lease_secs(config)).await
    };
    match renewed.await {
        Ok(lease) => Ok(lease.is_some()),
        Err(e) => {
            tracing::warn!(error = %e, "renewing reconciliation's lease failed");
            Err(())
        }
    }
}

async fn release(p: &Payments, holder: &str) -> Result<(), sqlx::Error> {
    let mut conn = p.pool.acquire().await?;
    store::reconciliation::release(&mut conn, holder).await
}

/// The next periodic run: [`run_span`], late refunds from its start too, and the orders
/// carried over. The late
/// refunds start there and not at the last end: a refund the PSP timestamped just before it,
/// or a cancel of ours that committed after that run read (its `canceled_at` is its
/// transaction's start), was not visible to that run (found in review). A late refund in the
/// overlap is then looked up twice.
fn next_scope(
    now: chrono::DateTime<Utc>,
    last_to: Option<chrono::DateTime<Utc>>,
    carried: std::collections::BTreeSet<String>,
    config: &JobsConfig,
) -> Scope {
    let (from, to) = run_span(now, last_to, config);
    Scope {
        from,
        to,
        late_from: from,
        carried,
    }
}

/// The span of a periodic run: from the last successful run's end less the overlap, at most
/// one window long. After an outage longer than the window the runs walk through the gap a
/// window at a time (one per interval) instead of skipping to the last window: a dashboard
/// refund or an orphan charge in the gap is still compared, and the stale alert keeps firing
/// until the runs have caught up. The first run ever looks one window back.
fn run_span(
    now: chrono::DateTime<Utc>,
    last_to: Option<chrono::DateTime<Utc>>,
    config: &JobsConfig,
) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let window =
        chrono::Duration::from_std(config.reconcile_window).unwrap_or(chrono::Duration::hours(1));
    let overlap = chrono::Duration::from_std(config.reconcile_overlap)
        .unwrap_or(chrono::Duration::minutes(1));
    match last_to {
        None => (now - window, now),
        Some(last) => {
            let from = (last - overlap).min(now);
            (from, (from + window).min(now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_starts_at_the_last_end_less_the_overlap_and_walks_a_gap_a_window_at_a_time() {
        let config = JobsConfig {
            reconcile_interval: Duration::from_secs(60),
            reconcile_window: Duration::from_secs(3600),
            reconcile_overlap: Duration::from_secs(300),
            reconcile_carried_max: 10_000,
            redrive_after: Duration::from_secs(60),
        };
        let now = Utc::now();
        let minutes = chrono::Duration::minutes;
        assert_eq!(
            run_span(now, None, &config),
            (now - minutes(60), now),
            "the first run"
        );
        assert_eq!(
            run_span(now, Some(now - minutes(1)), &config),
            (now - minutes(6), now),
            "the next"
        );
        // Three hours without a successful run: the gap is compared, one window per run.
        let mut last = now - minutes(180);
        let mut runs = Vec::new();
        while last < now {
            let (from, to) = run_span(now, Some(last), &config);
            assert_eq!(
                from,
                last - minutes(5),
                "each run starts where the last ended"
            );
            assert!(to - from <= minutes(60), "at most a window");
            runs.push((from, to));
            last = to;
        }
        assert_eq!(runs.len(), 4, "{runs:?}");
        assert_eq!(
            runs[0].0,
            now - minutes(185),
            "the gap's start is not skipped"
        );
    }

    #[test]
    fn late_refunds_start_with_the_overlap_and_the_carried_orders_come_along() {
        let config = JobsConfig {
            reconcile_interval: Duration::from_secs(60),
            reconcile_window: Duration::from_secs(3600),
            reconcile_overlap: Duration::from_secs(60),
            reconcile_carried_max: 10_000,
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
