//! Confirming a payment with the PSP, shared by the confirm API and the recovery job.
//!
//! The amount and status are checked under the order's row lock before anything is sent;
//! lines go EXECUTING in a committed transaction before the PSP call, so a crash mid-call
//! leaves a trace the recovery job finds; the outcome, its history rows and its event are
//! committed together.

use std::sync::Arc;

use chrono::Utc;
use events::{Envelope, PaidOrderLine, PaymentConfirmed, PaymentFailed};
use outbox::{OutboxNudge, OutboxWriter};
use prometheus::IntCounterVec;
use rust_decimal::Decimal;
use service_kit::Metrics;
use snowflake::Snowflake;
use sqlx::{PgConnection, PgPool};

use crate::{
    status::PaymentStatus,
    store::{self, PaymentEventRow, PaymentOrderRow},
    toss::{PspOutcome, TossClient, TossPayment},
};

/// What a confirm ended in.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// Declined by the PSP or given up after `threshold` unknown outcomes.
    Failure {
        code: String,
        message: String,
    },
    /// The PSP did not say; the recovery job will find out.
    Unknown {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("no order {0}")]
    NotFound(String),
    #[error("amount {got} does not match the order total {expected}")]
    AmountMismatch { expected: Decimal, got: Decimal },
    #[error("the order is already confirmed with another paymentKey")]
    PaymentKeyMismatch,
    #[error("this paymentKey belongs to another order")]
    PaymentKeyInUse,
    #[error("a confirmation of this order is in progress")]
    InProgress,
    #[error("the payment of this order has failed ({0}); start a new checkout")]
    AlreadyFailed(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Ids(#[from] snowflake::SnowflakeError),
}

/// Lines of one order move together (one PSP payment per order); this is their joint status.
pub fn order_status(lines: &[PaymentOrderRow]) -> PaymentStatus {
    let statuses: Vec<PaymentStatus> = lines
        .iter()
        .filter_map(|l| PaymentStatus::parse(&l.status))
        .collect();
    for s in [
        PaymentStatus::Executing,
        PaymentStatus::Unknown,
        PaymentStatus::Failure,
        PaymentStatus::Success,
    ] {
        if statuses.contains(&s) {
            return s;
        }
    }
    PaymentStatus::NotStarted
}

/// `payments_total{outcome}`: outcomes recorded on orders (SUCCESS, FAILURE, UNKNOWN), one per
/// state change the PSP's answer caused, whether from a confirm or the recovery job. A repeated
/// confirm that changes nothing is not counted again.
#[derive(Clone)]
pub struct PaymentOutcomes(IntCounterVec);

impl PaymentOutcomes {
    pub fn register(metrics: &Metrics) -> Self {
        let counter = metrics.counter_vec(
            "payments_total",
            "Payment outcomes recorded on orders (SUCCESS, FAILURE, UNKNOWN)",
            &["outcome"],
        );
        // Zeros rather than gaps on a fresh dashboard.
        for status in [
            PaymentStatus::Success,
            PaymentStatus::Failure,
            PaymentStatus::Unknown,
        ] {
            counter.with_label_values(&[status.as_str()]);
        }
        Self(counter)
    }

    fn record(&self, event: &PaymentEventRow, status: PaymentStatus, reason: &str, actor: &str) {
        self.0.with_label_values(&[status.as_str()]).inc();
        tracing::info!(order_id = %event.order_id, outcome = status.as_str(), reason, actor,
            "payment outcome recorded");
    }
}

#[derive(Clone)]
pub struct Payments {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: OutboxWriter,
    pub nudge: OutboxNudge,
    pub toss: TossClient,
    pub outcomes: PaymentOutcomes,
}

impl Payments {
    fn history_ids(&self, n: usize) -> Result<Vec<i64>, ConfirmError> {
        (0..n).map(|_| Ok(self.ids.next_id()?)).collect()
    }

    /// Moves the order's lines that may become `next` (a guarded transition with history
    /// rows) and returns the lines as read before, and how many moved.
    async fn move_lines(
        &self,
        conn: &mut PgConnection,
        event: &PaymentEventRow,
        next: PaymentStatus,
        count_failure: bool,
        reason: &str,
        actor: &str,
    ) -> Result<(Vec<PaymentOrderRow>, u64), ConfirmError> {
        let lines = store::find_lines(conn, event.payment_event_no).await?;
        let ids = self.history_ids(lines.len())?;
        let changed = store::transition(
            conn,
            &ids,
            event.payment_event_no,
            next,
            count_failure,
            reason,
            actor,
        )
        .await?;
        Ok((lines, changed))
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
        let event = store::find_event(&mut tx, order_id, true)
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
        if event.payment_key.is_none()
            && store::payment_key_taken(&mut tx, payment_key, event.payment_event_no).await?
        {
            // One PSP payment can never pay two orders (payment_events_payment_key_key); a
            // client that sends another order's key gets a problem, not the constraint's 500.
            return Err(ConfirmError::PaymentKeyInUse);
        }
        let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
        match order_status(&lines) {
            // A repeated confirm of a paid order answers the same outcome; nothing is sent.
            PaymentStatus::Success => return Ok((event, Outcome::Success)),
            PaymentStatus::Failure => {
                return Err(ConfirmError::AlreadyFailed(
                    last_reason(&mut tx, &event).await?,
                ))
            }
            PaymentStatus::Executing => return Err(ConfirmError::InProgress),
            PaymentStatus::NotStarted | PaymentStatus::Unknown => {}
        }
        let ids = self.history_ids(lines.len())?;
        store::transition(
            &mut tx,
            &ids,
            event.payment_event_no,
            PaymentStatus::Executing,
            false,
            "CONFIRM_REQUESTED",
            actor,
        )
        .await?;
        store::set_payment_key(&mut tx, event.payment_event_no, payment_key)
            .await
            .map_err(|e| match &e {
                // Another order's confirm with the same key committed since the check above.
                sqlx::Error::Database(db)
                    if db.constraint() == Some("payment_events_payment_key_key") =>
                {
                    ConfirmError::PaymentKeyInUse
                }
                _ => ConfirmError::Db(e),
            })?;
        tx.commit().await?;

        let psp = self.toss.confirm(payment_key, order_id, amount).await;
        let outcome = self.record_outcome(&event, psp, actor).await?;
        Ok((event, outcome))
    }

    /// Applies what the PSP said. An "already processed" answer is checked by looking the
    /// payment up: only a DONE payment of the right amount counts as paid.
    pub async fn record_outcome(
        &self,
        event: &PaymentEventRow,
        psp: PspOutcome,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let psp = match psp {
            PspOutcome::AlreadyProcessed => match self.toss.find_by_order_id(&event.order_id).await
            {
                PspOutcome::Approved(p, raw) => PspOutcome::Approved(p, raw),
                _ => PspOutcome::Unknown {
                    reason: "ALREADY_PROCESSED_NOT_FOUND".into(),
                },
            },
            other => other,
        };
        match psp {
            PspOutcome::Approved(payment, raw) => {
                self.record_approval(event, &payment, &raw, actor).await
            }
            PspOutcome::Declined { code, message } => {
                self.fail(event, &code, &message, actor).await
            }
            PspOutcome::Unknown { reason } => self.record_unknown(event, &reason, actor).await,
            PspOutcome::AlreadyProcessed => {
                self.record_unknown(event, "ALREADY_PROCESSED", actor).await
            }
        }
    }

    async fn record_approval(
        &self,
        event: &PaymentEventRow,
        payment: &TossPayment,
        raw: &serde_json::Value,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        if payment.status != "DONE" {
            return self
                .record_unknown(event, &format!("PSP_STATUS_{}", payment.status), actor)
                .await;
        }
        if payment.total_amount != event.total_amount || payment.order_id != event.order_id {
            tracing::error!(order_id = %event.order_id, psp_amount = %payment.total_amount,
                "PSP approved a different amount or order; refusing it");
            return self
                .fail(
                    event,
                    "PSP_AMOUNT_MISMATCH",
                    "the PSP approved a different amount",
                    actor,
                )
                .await;
        }
        let mut tx = self.pool.begin().await?;
        let (lines, changed) = self
            .move_lines(
                &mut tx,
                event,
                PaymentStatus::Success,
                false,
                "PSP_CONFIRM_OK",
                actor,
            )
            .await?;
        if changed == 0 {
            // Another confirm or the recovery job finished first; report what it recorded.
            return current_outcome(&mut tx, event).await;
        }
        let approved_at = payment.approved_at.unwrap_or_else(Utc::now);
        store::mark_paid(
            &mut tx,
            event.payment_event_no,
            payment.method.as_deref(),
            approved_at,
            raw,
        )
        .await?;
        let confirmed = Envelope::new(PaymentConfirmed {
            payment_event_no: event.payment_event_no,
            member_no: event.member_no,
            order_id: event.order_id.clone(),
            order_name: event.order_name.clone(),
            payment_key: payment.payment_key.clone(),
            method: payment.method.clone().unwrap_or_default(),
            approved_at,
            total_amount: event.total_amount,
            ordered_at: event.created_at,
            lines: lines
                .iter()
                .map(|l| PaidOrderLine {
                    payment_order_no: l.payment_order_no,
                    product_no: l.product_no,
                    seller_no: l.seller_no,
                    product_name: l.product_name.clone(),
                    amount: l.amount,
                })
                .collect(),
        });
        self.outbox
            .append(&mut tx, event.payment_event_no, &confirmed, &[])
            .await?;
        tx.commit().await?;
        self.nudge.nudge();
        self.outcomes
            .record(event, PaymentStatus::Success, "PSP_CONFIRM_OK", actor);
        Ok(Outcome::Success)
    }

    async fn record_unknown(
        &self,
        event: &PaymentEventRow,
        reason: &str,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let mut tx = self.pool.begin().await?;
        let (_, changed) = self
            .move_lines(&mut tx, event, PaymentStatus::Unknown, true, reason, actor)
            .await?;
        if changed == 0 {
            return current_outcome(&mut tx, event).await;
        }
        let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
        if lines.iter().any(|l| l.failed_count >= l.threshold) {
            tx.commit().await?;
            return self
                .fail(
                    event,
                    "RETRY_THRESHOLD_REACHED",
                    &format!("gave up after repeated unknown outcomes (last: {reason})"),
                    actor,
                )
                .await;
        }
        tx.commit().await?;
        self.outcomes
            .record(event, PaymentStatus::Unknown, reason, actor);
        Ok(Outcome::Unknown {
            reason: reason.to_string(),
        })
    }

    async fn fail(
        &self,
        event: &PaymentEventRow,
        code: &str,
        message: &str,
        actor: &str,
    ) -> Result<Outcome, ConfirmError> {
        let mut tx = self.pool.begin().await?;
        let (_, changed) = self
            .move_lines(&mut tx, event, PaymentStatus::Failure, false, code, actor)
            .await?;
        if changed == 0 {
            return current_outcome(&mut tx, event).await;
        }
        let failed = Envelope::new(PaymentFailed {
            payment_event_no: event.payment_event_no,
            member_no: event.member_no,
            order_id: event.order_id.clone(),
            order_name: event.order_name.clone(),
            total_amount: event.total_amount,
            ordered_at: event.created_at,
            reason_code: code.to_string(),
        });
        self.outbox
            .append(&mut tx, event.payment_event_no, &failed, &[])
            .await?;
        tx.commit().await?;
        self.nudge.nudge();
        self.outcomes
            .record(event, PaymentStatus::Failure, code, actor);
        Ok(Outcome::Failure {
            code: code.to_string(),
            message: message.to_string(),
        })
    }
}

async fn last_reason(
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

/// The outcome as currently recorded (after losing a race to another writer).
async fn current_outcome(
    conn: &mut PgConnection,
    event: &PaymentEventRow,
) -> Result<Outcome, ConfirmError> {
    let lines = store::find_lines(conn, event.payment_event_no).await?;
    Ok(match order_status(&lines) {
        PaymentStatus::Success => Outcome::Success,
        PaymentStatus::Failure => Outcome::Failure {
            code: last_reason(conn, event).await?,
            message: "the payment failed".into(),
        },
        other => Outcome::Unknown {
            reason: format!("CONCURRENT_{other}"),
        },
    })
}
