//! Orders paid before the window whose money moved in it: refunded at the PSP (the window's
//! transactions hold the cancel and not the charge) or cancelled by us. The window alone would
//! compare them as "charged nothing, refunded something" — or, as before stop 18, not at all
//! once the payment was older than the window. Their whole record is looked up at the PSP
//! instead (`GET /v1/payments/orders/{orderId}`), a few calls at once. The periodic run looks
//! up only refunds since its window's start ([`super::Scope::late_from`]), so each is looked
//! up once or twice (the overlap), plus the orders it carries over unresolved.

use std::collections::{BTreeMap, BTreeSet};

use futures::{stream, StreamExt};
use rust_decimal::Decimal;

use super::Ledger;
use crate::{
    payments::Payments,
    psp::{PspOutcome, TossPayment},
};

/// PSP lookups in flight at once: a restart's first run may have an hour of refunds to look up.
const LOOKUPS_AT_ONCE: usize = 8;

/// The orders among `candidates` (our cancels in the window, and the PSP's orders in it) whose
/// charge the window's transactions do not hold.
pub(super) fn late_orders(
    candidates: impl IntoIterator<Item = String>,
    psp: &BTreeMap<String, Ledger>,
) -> BTreeSet<String> {
    candidates
        .into_iter()
        .filter(|id| psp.get(id).is_none_or(|l| l.charged.is_zero()))
        .collect()
}

impl Payments {
    /// Puts the PSP's whole record of each of `orders` in `psp` (none if it has no payment for
    /// the order); answers the orders it could not look up.
    pub(super) async fn look_up_late(
        &self,
        orders: &BTreeSet<String>,
        psp: &mut BTreeMap<String, Ledger>,
    ) -> Vec<String> {
        let psp_client = &self.psp;
        let answers: Vec<(String, PspOutcome)> = stream::iter(orders.iter().cloned())
            .map(|order_id| async move {
                let answer = psp_client.find_by_order_id(&order_id).await;
                (order_id, answer)
            })
            .buffer_unordered(LOOKUPS_AT_ONCE)
            .collect()
            .await;
        let mut failed = Vec::new();
        for (order_id, answer) in answers {
            match answer {
                PspOutcome::Answered(payment, _) => {
                    psp.insert(order_id, ledger_of(&payment));
                }
                PspOutcome::Rejected { code, .. } if code == "NOT_FOUND_PAYMENT" => {
                    psp.remove(&order_id);
                }
                other => {
                    tracing::warn!(%order_id, outcome = ?other, "looking up a late order at the PSP failed");
                    failed.push(order_id);
                }
            }
        }
        failed
    }
}

/// The PSP's whole record of an order from a lookup made after our side was read, or `None`
/// when the lookup failed. "No payment" counts only if the window's transactions (`listed`)
/// showed no money either: a charge in the list and none in the lookup is the PSP
/// contradicting itself, and the order is compared on the list, as before.
pub(super) fn record_now(looked_up: &PspOutcome, listed: &Ledger) -> Option<Ledger> {
    match looked_up {
        PspOutcome::Answered(payment, _) => Some(ledger_of(payment)),
        PspOutcome::Rejected { code, .. }
            if code == "NOT_FOUND_PAYMENT"
                && listed.charged.is_zero()
                && listed.refunded.is_zero() =>
        {
            Some(Ledger {
                status: "NONE".into(),
                ..Ledger::default()
            })
        }
        _ => None,
    }
}

/// The PSP's record of an order as the transactions would sum it: charged once, refunded by
/// its cancels.
fn ledger_of(payment: &TossPayment) -> Ledger {
    let charged = payment.was_charged();
    Ledger {
        status: payment.status.to_string(),
        charged: if charged {
            payment.total_amount
        } else {
            Decimal::ZERO
        },
        refunded: if charged {
            payment.refunded()
        } else {
            Decimal::ZERO
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(charged: i64, refunded: i64) -> Ledger {
        Ledger {
            status: "DONE".into(),
            charged: Decimal::from(charged),
            refunded: Decimal::from(refunded),
        }
    }

    #[test]
    fn an_order_is_late_when_the_window_holds_no_charge_of_it() {
        let psp = BTreeMap::from([
            ("refunded-only".to_string(), ledger(0, 500)),
            ("charged-and-refunded".to_string(), ledger(1000, 500)),
        ]);
        let late = late_orders(
            ["refunded-only", "charged-and-refunded", "ours-only"].map(String::from),
            &psp,
        );
        assert_eq!(
            late,
            BTreeSet::from(["ours-only".to_string(), "refunded-only".to_string()])
        );
    }
}
