//! The periodic jobs beside the recovery job: reconciliation with the PSP over a trailing
//! window, and the re-drive of unsettled orders and unreversed cancels.

use std::time::Duration;

use chrono::Utc;
use service_kit::Shutdown;

use crate::payments::Payments;

#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    pub reconcile_interval: Duration,
    /// How far back each run looks.
    pub reconcile_window: Duration,
    /// Re-drive a paid order or a done cancel not confirmed by the wallet after this long.
    pub redrive_after: Duration,
}

pub fn spawn(payments: Payments, config: JobsConfig, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    let p = payments.clone();
    shutdown.spawn("payment-reconciliation", async move {
        loop {
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(config.reconcile_interval) => {}
            }
            let to = Utc::now();
            let window = chrono::Duration::from_std(config.reconcile_window)
                .unwrap_or(chrono::Duration::hours(1));
            // Only this job sets the gauges: an operator's ad-hoc window on the admin API must
            // not overwrite what the alert watches.
            match p.reconcile(to - window, to).await {
                Ok(r) => {
                    p.metrics.reconciliation_mismatches.set(r.unrepaired);
                    p.metrics.reconciliation_last_success.set(to.timestamp());
                    if r.mismatches.is_empty() {
                        tracing::debug!(checked = r.checked, "reconciliation: all matched");
                    } else {
                        tracing::warn!(
                            checked = r.checked,
                            mismatches = r.mismatches.len(),
                            unrepaired = r.unrepaired,
                            "reconciliation found mismatches"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reconciliation failed; will retry"),
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
