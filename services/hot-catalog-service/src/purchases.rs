//! Purchases in the ranking: each paid order line (`order.payment.confirmed`) contributes the
//! paid-line weight at its approval time, and a cancel (`order.payment.canceled`) takes that
//! contribution back. Both go through `lua/purchases.lua` with a small state per payment order
//! line in Redis, so the take-back uses the purchase's own time and weight (exact, like an
//! unlike) and does not depend on the order the two events arrive in.
//!
//! **Partial refunds: the purchase is removed only when its line is fully refunded** (the
//! cancels of the line add up to its amount), not in proportion. A purchase scores as one
//! event whatever its price — the weight is per line, not per won — and a partial refund (a
//! price adjustment, a damaged item credited) leaves the customer with the product: the
//! purchase happened. Proportional removal would also make the paid-lines count fractional and
//! lose the exact, bit-identical take-back. Several partial cancels that together refund the
//! whole line do remove it.
//!
//! Idempotence: a refund counts once per `(cancelNo, paymentOrderNo)` and a purchase once per
//! `paymentOrderNo` (state in the line's hash), so redeliveries, replays and re-emissions under
//! a new `eventId` change nothing. The line state expires after [`line_ttl_secs`]; a cancel
//! arriving later than that finds nothing to take back — the purchase has long decayed to
//! nothing by then (its paid-lines count stays).

use std::sync::Arc;

use events::{Event, PaymentCanceled, PaymentConfirmed};
use messaging::{Delivery, Handler, HandlerError};
use prometheus::IntCounterVec;
use rust_decimal::{prelude::ToPrimitive, Decimal};

use crate::{
    clock::Clock,
    ranking::{Ranking, SEEN_TTL_SECS},
    score::{ScoreModel, RENORMALISE_AFTER},
};

/// One line's purchase or refund, as `lua/purchases.lua` applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum LineOp {
    Buy {
        payment_order_no: i64,
        product_no: i64,
        at_ms: i64,
        weight: f64,
    },
    Refund {
        payment_order_no: i64,
        product_no: i64,
        cancel_no: i64,
        /// Minor units (won × 100), so cumulative refunds compare exactly in Redis' integers.
        refunded: i64,
        line_amount: i64,
    },
}

/// How long a line's state is kept: long enough that the purchase has decayed to nothing
/// (the renormalisation span, 64 half-lives) and at least as long as the streams can replay,
/// but never over 400 days, whatever the configured half-life.
pub fn line_ttl_secs(model: &ScoreModel) -> u64 {
    let decayed = (RENORMALISE_AFTER * model.half_life_ms() / 1000).max(0) as u64;
    decayed.clamp(SEEN_TTL_SECS, 400 * 24 * 3600)
}

/// One buy per paid line, at the approval time.
pub fn buys(model: &ScoreModel, payment: &PaymentConfirmed) -> Vec<LineOp> {
    let at_ms = payment.approved_at.timestamp_millis();
    payment
        .lines
        .iter()
        .map(|l| LineOp::Buy {
            payment_order_no: l.payment_order_no,
            product_no: l.product_no,
            at_ms,
            weight: model.weights.paid_line,
        })
        .collect()
}

fn minor_units(amount: Decimal) -> Option<i64> {
    (amount * Decimal::ONE_HUNDRED).round().to_i64()
}

/// One refund per cancelled line. Amounts that are not positive (or out of range) can never
/// be applied: an error, and the event is rejected.
pub fn refunds(cancel: &PaymentCanceled) -> Result<Vec<LineOp>, String> {
    cancel
        .lines
        .iter()
        .map(|l| {
            let refunded = minor_units(l.amount).filter(|a| *a > 0);
            let line_amount = minor_units(l.line_amount).filter(|a| *a > 0);
            match (refunded, line_amount) {
                (Some(refunded), Some(line_amount)) => Ok(LineOp::Refund {
                    payment_order_no: l.payment_order_no,
                    product_no: l.product_no,
                    cancel_no: cancel.cancel_no,
                    refunded,
                    line_amount,
                }),
                _ => Err(format!(
                    "cancel {} line {}: amount {} of {} is not a positive amount",
                    cancel.cancel_no, l.payment_order_no, l.amount, l.line_amount
                )),
            }
        })
        .collect()
}

/// The `hot-catalog-orders` durable: purchases and cancels into the ranking.
pub struct PurchaseEvents {
    pub consumer: &'static str,
    pub ranking: Ranking,
    pub clock: Arc<dyn Clock>,
    pub outcomes: IntCounterVec,
}

impl Handler for PurchaseEvents {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let model = self.ranking.model();
        let now = self.clock.now();
        let ops = match delivery.event.event_type.as_str() {
            PaymentConfirmed::TYPE => {
                let payment = delivery.decode::<PaymentConfirmed>()?.payload;
                model
                    .check_times(&model.paid_lines(&payment), now)
                    .map_err(HandlerError::Reject)?;
                buys(model, &payment)
            }
            PaymentCanceled::TYPE => refunds(&delivery.decode::<PaymentCanceled>()?.payload)
                .map_err(HandlerError::Reject)?,
            other => {
                return Err(HandlerError::reject(format!(
                    "{other} is not a purchase event"
                )))
            }
        };
        let changed = self
            .ranking
            .apply_purchases(now, &ops)
            .await
            // Redis unreachable or busy: the next delivery may well succeed.
            .map_err(|e| HandlerError::retry_because("redis", e))?;
        let outcome = if changed > 0 {
            "applied"
        } else {
            // A dead-letter replay reports it (libs/messaging/src/replay.rs).
            messaging::note_duplicate();
            "duplicate"
        };
        self.outcomes
            .with_label_values(&[self.consumer, outcome])
            .inc();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{Weights, DEFAULT_HALF_LIFE};
    use chrono::Utc;
    use events::CanceledLine;

    #[test]
    fn refunds_are_in_minor_units_and_bad_amounts_are_refused() {
        let line = |amount: &str| CanceledLine {
            payment_order_no: 11,
            product_no: 3,
            seller_no: 1,
            amount: amount.parse().expect("decimal"),
            line_amount: "1000".parse().expect("decimal"),
        };
        let cancel = |amount: &str| PaymentCanceled {
            payment_event_no: 1,
            member_no: 1,
            order_id: "o".into(),
            cancel_no: 9,
            cancel_reason: "r".into(),
            cancel_amount: Decimal::ZERO,
            refunded_total: Decimal::ZERO,
            balance_amount: Decimal::ZERO,
            total_amount: Decimal::ZERO,
            canceled_at: Utc::now(),
            status: "PARTIAL_CANCELED".into(),
            lines: vec![line(amount)],
        };
        assert_eq!(
            refunds(&cancel("250.5")).expect("valid"),
            vec![LineOp::Refund {
                payment_order_no: 11,
                product_no: 3,
                cancel_no: 9,
                refunded: 25_050,
                line_amount: 100_000,
            }]
        );
        assert!(refunds(&cancel("0")).is_err());
    }

    #[test]
    fn line_state_outlives_the_purchase_but_is_bounded() {
        let day = ScoreModel::new(Weights::default(), DEFAULT_HALF_LIFE).expect("model");
        assert_eq!(line_ttl_secs(&day), 64 * 24 * 3600);
        let second =
            ScoreModel::new(Weights::default(), std::time::Duration::from_secs(1)).expect("model");
        assert_eq!(line_ttl_secs(&second), SEEN_TTL_SECS);
    }
}
