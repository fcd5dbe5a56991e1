//! Confirming a payment with the PSP, shared by the confirm API, the recovery job and
//! reconciliation.
//!
//! The amount and status are checked under the order's row lock before anything is sent;
//! lines go EXECUTING with a fresh attempt number in a committed transaction before the PSP
//! call, so a crash mid-call leaves a trace the recovery job finds; the outcome (see
//! [`crate::attempt`]) is written only while the attempt is still the order's.

use std::{sync::Arc, time::Duration};

use outbox::Outbox;
use prometheus::{IntCounter, IntCounterVec, IntGauge};
use rust_decimal::Decimal;
use service_kit::Metrics;
use snowflake::Snowflake;
use sqlx::{PgConnection, PgPool};

pub use crate::confirm_error::ConfirmError;
use crate::{
    attempt::Attempt,
    psp::PspClient,
    status::PaymentStatus,
    store::{self, PaymentEventRow, PaymentOrderRow, Transition},
};

/// What a confirm ended in.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// A definite answer that no money moved (a card decline, an aborted payment, our own
    /// cancel of a wrong charge).
    Failure {
        code: String,
        message: String,
    },
    /// The PSP did not say; the recovery job will find out.
    Unknown {
        reason: String,
    },
    /// The PSP refused this attempt itself (wrong key, …): the order is as it was.
    Rejected {
        code: String,
        message: String,
    },
    /// The PSP refused our merchant credentials: the order is as it was.
    CredentialsRejected {
        code: String,
    },
}

/// Lines of one order move together through the confirm (one PSP payment per order); cancels
/// move them one by one. This is the order's joint status.
pub fn order_status(lines: &[PaymentOrderRow]) -> PaymentStatus {
    let statuses: Vec<PaymentStatus> = lines.iter().map(|l| l.status).collect();
    joint_status(&statuses)
}

/// The joint status of an order's lines, given their statuses (reconciliation reads only
/// those, for many orders in one statement: store/ledgers.rs).
pub fn joint_status(lines: &[PaymentStatus]) -> PaymentStatus {
    use PaymentStatus::*;
    let has = |s: PaymentStatus| lines.contains(&s);
    for s in [Executing, Unknown, Failure, NotStarted] {
        if has(s) {
            return s;
        }
    }
    if !lines.is_empty() && lines.iter().all(|&l| l == Canceled) {
        Canceled
    } else if has(PartialCanceled) || has(Canceled) {
        PartialCanceled
    } else if has(Success) {
        Success
    } else {
        NotStarted
    }
}

/// The payment metrics: `payments_total{outcome}` (outcomes recorded on orders, one per state
/// change the PSP's answer caused), `payments_unresolved` (orders still unknown after the
/// threshold) and `psp_credential_errors_total` (our secret key refused).
#[derive(Clone)]
pub struct PaymentMetrics {
    outcomes: IntCounterVec,
    pub unresolved: IntGauge,
    pub credential_errors: IntCounter,
    pub reconciliation_mismatches: IntGauge,
    pub reconciliation_last_success: IntGauge,
    /// Cancels whose outcome is still unknown after the lookup threshold.
    pub cancels_unresolved: IntGauge,
}

impl PaymentMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let outcomes = metrics.counter_vec(
            "payments_total",
            "Payment outcomes recorded on orders (SUCCESS, FAILURE, UNKNOWN, REJECTED, CANCELED)",
            &["outcome"],
        );
        // Zeros rather than gaps on a fresh dashboard.
        for outcome in ["SUCCESS", "FAILURE", "UNKNOWN", "REJECTED", "CANCELED"] {
            outcomes.with_label_values(&[outcome]);
        }
        Self {
            outcomes,
            unresolved: metrics.gauge(
                "payments_unresolved",
                "Orders whose PSP outcome is still unknown after the lookup threshold",
            ),
            reconciliation_mismatches: metrics.gauge(
                "reconciliation_mismatches",
                "Mismatches with the PSP that the last periodic reconciliation could not repair",
            ),
            reconciliation_last_success: metrics.gauge(
                "reconciliation_last_success_timestamp_seconds",
                "When the periodic reconciliation last compared a window completely (unix time)",
            ),
            cancels_unresolved: metrics.gauge(
                "cancels_unresolved",
                "Cancels whose PSP outcome is still unknown after the lookup threshold",
            ),
            credential_errors: metrics.counter(
                "psp_credential_errors_total",
                "PSP calls refused because of our merchant credentials",
            ),
        }
    }

    pub fn record(&self, order_id: &str, outcome: &str, reason: &str, actor: &str) {
        self.outcomes.with_label_values(&[outcome]).inc();
        tracing::info!(order_id, outcome, reason, actor, "payment outcome recorded");
    }
}

#[derive(Clone)]
pub struct Payments {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
    pub psp: PspClient,
    pub metrics: PaymentMetrics,
    /// The recovery interval: the first backoff after an unknown outcome.
    pub recovery_interval: Duration,
    /// The longest backoff between two lookups of an unresolved order.
    pub recovery_max_backoff: Duration,
    /// How long an attempt or a cancel call is left to its requester before recovery takes
    /// it over (`RECOVERY_STALE_MS`, above the PSP timeout).
    pub stale_after: Duration,
    /// Wakes the recovery job before its next tick (a webhook said something changed).
    pub recovery_wake: Arc<tokio::sync::Notify>,
    /// Orders this process recorded as final, for the webhooks that follow (final_orders.rs).
    pub final_orders: Arc<crate::final_orders::FinalOrders>,
}

impl Payments {
    pub fn history_ids(&self, n: usize) -> Result<Vec<i64>, ConfirmError> {
        (0..n).map(|_| Ok(self.ids.next_id()?)).collect()
    }

    /// The wait before looking up an order again after its `failed_count`-th unknown outcome:
    /// the interval doubled each time, capped.
    pub fn backoff(&self, failed_count: i32) -> Duration {
        let doublings = failed_count.clamp(0, 16) as u32;
        self.recovery_interval
            .saturating_mul(1 << doublings)
            .min(self.recovery_max_backoff)
    }

    /// Moves a NOT_STARTED or UNKNOWN order to EXECUTING under a new attempt that confirms
    /// `payment_key`, in the caller's transaction (which holds the order's row lock and has
    /// read the order's `line_count` lines to decide: they are not read again).
    #[allow(clippy::too_many_arguments)]
    pub async fn start_attempt(
        &self,
        conn: &mut PgConnection,
        event: &PaymentEventRow,
        line_count: usize,
        previous: PaymentStatus,
        payment_key: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Attempt, ConfirmError> {
        let attempt_no = self.ids.next_id()?;
        let ids = self.history_ids(line_count)?;
        let t = Transition {
            next: PaymentStatus::Executing,
            count_failure: false,
            attempt_no: None,
            reason,
            actor,
        };
        store::transition(conn, &ids, event.payment_event_no, t).await?;
        store::start_attempt(conn, event.payment_event_no, payment_key, attempt_no).await?;
        Ok(Attempt {
            event: event.clone(),
            attempt_no,
            previous,
            payment_key: payment_key.to_string(),
        })
    }

    /// `POST /api/payments/confirm`: checks, EXECUTING, PSP, outcome.
    pub async fn confirm(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: Decimal,
        actor: &str,
    ) -> Result<(PaymentEventRow, Outcome), ConfirmError> {
        let mut tx = self.pool.begin().await?;
        let store::orders::OrderToConfirm {
            event,
            lines,
            key_taken,
        } = store::orders::lock_order_for_confirm(&mut tx, order_id, payment_key)
            .await?
            .ok_or_else(|| ConfirmError::NotFound(order_id.to_string()))?;
        if amount != event.total_amount {
            return Err(ConfirmError::AmountMismatch {
                expected: event.total_amount,
                got: amount,
            });
        }
        if event
            .payment_key
            .as_deref()
            .is_some_and(|k| k != payment_key)
        {
            return Err(ConfirmError::PaymentKeyMismatch);
        }
        if key_taken {
            // One PSP payment can never pay two orders (payment_events_payment_key_key).
            return Err(ConfirmError::PaymentKeyInUse);
        }
        let previous = order_status(&lines);
        match previous {
            // A repeated confirm of a paid order answers the same outcome; nothing is sent.
            s if s.is_paid() => return Ok((event, Outcome::Success)),
            PaymentStatus::Failure => {
                return Err(ConfirmError::AlreadyFailed(
                    last_reason(&mut tx, &event).await?,
                ))
            }
            PaymentStatus::NotStarted | PaymentStatus::Unknown => {}
            _ => return Err(ConfirmError::InProgress),
        }
        let attempt = self
            .start_attempt(
                &mut tx,
                &event,
                lines.len(),
                previous,
                payment_key,
                "CONFIRM_REQUESTED",
                actor,
            )
            .await?;
        tx.commit().await?;

        let psp = self
            .psp
            .confirm(payment_key, order_id, amount, attempt.attempt_no)
            .await;
        let outcome = self.record_outcome(&attempt, psp, actor).await?;
        Ok((event, outcome))
    }
}

pub async fn last_reason(
    conn: &mut PgConnection,
    event: &PaymentEventRow,
) -> Result<String, sqlx::Error> {
    let history = store::find_history(conn, event.payment_event_no).await?;
    Ok(history
        .into_iter()
        .rev()
        .find(|h| h.new_status == PaymentStatus::Failure.as_str())
        .map(|h| h.reason)
        .unwrap_or_else(|| "FAILURE".into()))
}
