//! Confirmed orders projected a whole group at once ([`messaging::GroupHandler::apply_batch`]):
//! one statement claims every event, one writes every view, two replace every shown order's
//! lines, where the careful path (projection.rs) spends a savepoint and five statements on each
//! (docs/benchmarks.md, stop 27). Both paths write with the same statements (view_writes.rs).
//!
//! Only a plain group takes this path: every delivery an `order.payment.confirmed` that decodes,
//! and no two fresh events of one payment event (one statement cannot upsert a row twice).
//! Anything else declines and goes one savepoint per delivery, as before; so does a group whose
//! statement fails (an order id already shown for another payment event: the careful path
//! rejects that one alone). The group's `prepare` holds every order's lock.
//!
//! A group of `wallet.settled` ([`record_settlements`]) is claimed, kept and marked on the
//! views in three statements, where the careful path spends a savepoint and four on each; one
//! that does not decode sends its group the careful way, so it is dead-lettered alone.

use std::collections::HashSet;

use events::{Envelope, PaymentConfirmed, WalletSettled};
use messaging::{claim_fresh, BatchItem, HandlerError};
use sqlx::PgConnection;

use crate::{
    projection::{OrderProjection, ORDER_CONSUMER, WALLET_CONSUMER},
    view_writes::{self, Settlement},
};

impl OrderProjection {
    /// `Ok(false)`: declined, nothing written (see the module docs).
    pub(crate) async fn project_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        let mut orders: Vec<Envelope<PaymentConfirmed>> = Vec::with_capacity(group.len());
        for item in group {
            let delivery = &item.delivery;
            if delivery.event.event_type != <PaymentConfirmed as events::Event>::TYPE {
                return Ok(false);
            }
            let Ok(event) = delivery.decode::<PaymentConfirmed>() else {
                return Ok(false);
            };
            orders.push(event);
        }
        let orders = claim_fresh(conn, ORDER_CONSUMER, orders, |e| e.event_id).await?;
        let mut events = HashSet::new();
        if !orders
            .iter()
            .all(|e| events.insert(e.payload.payment_event_no))
        {
            return Ok(false);
        }
        if orders.is_empty() {
            return Ok(true);
        }
        let paid: Vec<_> = orders.iter().map(|e| (&e.payload, e.occurred_at)).collect();
        let shown = view_writes::upsert_paid(conn, &paid).await?;
        let shown: Vec<&PaymentConfirmed> = paid
            .iter()
            .map(|(o, _)| *o)
            .filter(|o| shown.contains(&o.payment_event_no))
            .collect();
        view_writes::replace_lines(conn, &shown).await?;
        Ok(true)
    }
}

/// [`view_writes::record_settlements`] of a group (see the module docs); `Ok(false)`:
/// declined, nothing written.
pub(crate) async fn record_settlements(
    conn: &mut PgConnection,
    group: &[BatchItem],
) -> Result<bool, HandlerError> {
    let mut settled: Vec<Envelope<WalletSettled>> = Vec::with_capacity(group.len());
    for item in group {
        let Ok(event) = item.delivery.decode::<WalletSettled>() else {
            return Ok(false);
        };
        settled.push(event);
    }
    let settled = claim_fresh(conn, WALLET_CONSUMER, settled, |e| e.event_id).await?;
    if settled.is_empty() {
        return Ok(true);
    }
    let settled: Vec<Settlement> = settled
        .iter()
        .map(|e| Settlement {
            payment_event_no: e.payload.payment_event_no,
            order_id: &e.payload.order_id,
            settled_at: e.occurred_at,
        })
        .collect();
    view_writes::record_settlements(conn, &settled).await?;
    Ok(true)
}
