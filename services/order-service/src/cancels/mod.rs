//! Cancel and refund (docs/payments.md, "Cancel and refund"): a cancel is written as
//! REQUESTED with its share per line before the PSP is called (so a crash mid-call leaves a
//! row the recovery job repeats with the same PSP key), and completed in one transaction with
//! the lines' refunds, their history and `order.payment.canceled`.

mod allocate;
pub mod api;
mod complete;
mod drive;
mod import;
mod resolve;

use rust_decimal::Decimal;

use crate::{
    payments::{order_status, ConfirmError, Payments},
    status::{CancelStatus, PaymentStatus},
    store::{self, cancels::CancelRow},
};

pub use allocate::allocate;
pub use complete::canceled_event;
use drive::Call;

/// The start of the keys of imported refunds ([`Payments::import_psp_refund`]), refused in a
/// client's `Idempotency-Key` (api.rs).
pub const IMPORT_KEY_PREFIX: &str = "psp-refund-";

/// What a client asks to cancel.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    pub reason: String,
    /// Whole won; `None` = everything still refundable (of `lines`, if named).
    pub amount: Option<Decimal>,
    pub lines: Option<Vec<i64>>,
}

impl CancelRequest {
    /// The request's canonical form: a retry with the same key must send the same request.
    /// Short enough to store as it is (a reason is at most 200 characters).
    fn hash(&self) -> String {
        serde_json::json!({
            "reason": self.reason,
            "amount": self.amount.map(|a| a.normalize().to_string()),
            "lines": self.lines,
        })
        .to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no order {0}")]
    NotFound(String),
    #[error("an order in status {0} cannot be cancelled; only a paid order can")]
    NotCancelable(PaymentStatus),
    #[error("another cancel of this order is in progress")]
    InProgress,
    #[error("{requested} exceeds the refundable balance {refundable}")]
    ExceedsBalance {
        requested: Decimal,
        refundable: Decimal,
    },
    #[error("the order has no lines {0:?}")]
    UnknownLines(Vec<i64>),
    #[error("this Idempotency-Key was used with another request")]
    KeyReused,
    #[error("the PSP refused the cancel ({code})")]
    Refused { code: String },
    #[error("the PSP refused our merchant credentials ({code})")]
    Credentials { code: String },
    #[error("cancel {cancel_no} refunds {shares} lines and only {refunded} could take it")]
    LinesNotRefundable {
        cancel_no: i64,
        shares: usize,
        refunded: u64,
    },
    #[error("the cancel has had {0} calls; only one recovery has given up on is resolved by hand")]
    NotUnresolved(i32),
    #[error("a drive of this cancel is under way or just ended; try again in a minute")]
    BeingDriven,
    #[error("the PSP's record of the payment cannot be read ({0}); the cancel stays open")]
    PspUnreadable(String),
    #[error(transparent)]
    Confirm(#[from] ConfirmError),
}

impl From<sqlx::Error> for CancelError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db)
                if db.constraint() == Some("payment_cancels_one_open_idx") =>
            {
                Self::InProgress
            }
            _ => Self::Confirm(ConfirmError::Db(e)),
        }
    }
}

impl From<snowflake::SnowflakeError> for CancelError {
    fn from(e: snowflake::SnowflakeError) -> Self {
        Self::Confirm(ConfirmError::Ids(e))
    }
}

/// The PSP idempotency key of a cancel: fixed per cancel, so a repeated call refunds once.
pub fn psp_key(cancel_no: i64) -> String {
    format!("cancel-{cancel_no}")
}

impl Payments {
    /// `POST /api/payments/{orderId}/cancel`: checks and records the cancel, then calls the
    /// PSP. Answers the cancel as it stands (DONE, or UNKNOWN while the PSP has not said).
    pub async fn request_cancel(
        &self,
        order_id: &str,
        req: &CancelRequest,
        idempotency_key: Option<&str>,
        actor: &str,
    ) -> Result<CancelRow, CancelError> {
        let hash = req.hash();
        let mut tx = self.pool.begin().await?;
        let event = store::find_event(&mut tx, order_id, true)
            .await?
            .ok_or_else(|| CancelError::NotFound(order_id.to_string()))?;
        if let Some(key) = idempotency_key {
            if let Some(seen) =
                store::cancels::find_by_key(&mut tx, event.payment_event_no, key).await?
            {
                return if seen.request_hash == hash {
                    replay(seen)
                } else {
                    Err(CancelError::KeyReused)
                };
            }
        }
        let lines = store::find_lines(&mut tx, event.payment_event_no).await?;
        let status = order_status(&lines);
        if !matches!(
            status,
            PaymentStatus::Success | PaymentStatus::PartialCanceled
        ) {
            return Err(CancelError::NotCancelable(status));
        }
        if let Some(named) = &req.lines {
            let unknown: Vec<i64> = named
                .iter()
                .copied()
                .filter(|no| !lines.iter().any(|l| l.payment_order_no == *no))
                .collect();
            if !unknown.is_empty() {
                return Err(CancelError::UnknownLines(unknown));
            }
        }
        let refundable: Vec<(i64, Decimal)> = lines
            .iter()
            .filter(|l| {
                req.lines
                    .as_ref()
                    .is_none_or(|n| n.contains(&l.payment_order_no))
            })
            .map(|l| (l.payment_order_no, l.amount - l.refunded_amount))
            .filter(|l| l.1 > Decimal::ZERO)
            .collect();
        let available: Decimal = refundable.iter().map(|l| l.1).sum();
        let amount = req.amount.unwrap_or(available);
        let shares = allocate(&refundable, amount).ok_or(CancelError::ExceedsBalance {
            requested: amount,
            refundable: available,
        })?;
        let cancel_no = self.ids.next_id()?;
        let new = store::cancels::NewCancel {
            cancel_no,
            payment_event_no: event.payment_event_no,
            order_id,
            idempotency_key,
            request_hash: &hash,
            reason: &req.reason,
            amount,
            stale_secs: self.stale_after.as_secs_f64(),
            actor,
        };
        store::cancels::insert(&mut tx, new, &shares).await?;
        tx.commit().await?;
        self.drive(cancel_no, actor, Call::First).await
    }
}

impl Payments {
    /// `(refunded, refundable, order status)` of an order, for pages.
    pub async fn refund_state(&self, order_id: &str) -> Option<(Decimal, Decimal, String)> {
        let mut conn = self.pool.acquire().await.ok()?;
        let event = store::find_event(&mut conn, order_id, false).await.ok()??;
        let lines = store::find_lines(&mut conn, event.payment_event_no)
            .await
            .ok()?;
        Some((
            event.refunded_amount,
            event.total_amount - event.refunded_amount,
            order_status(&lines).to_string(),
        ))
    }
}

/// A repeated request with the same key answers what the first one got.
fn replay(seen: CancelRow) -> Result<CancelRow, CancelError> {
    match seen.status {
        CancelStatus::Rejected => Err(CancelError::Refused {
            code: seen.failure_code.unwrap_or_default(),
        }),
        _ => Ok(seen),
    }
}
