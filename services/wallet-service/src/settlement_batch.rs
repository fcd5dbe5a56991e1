//! Settlements of a whole group at once ([`messaging::GroupHandler::apply_batch`]): the
//! statements of [`SettleOrder::settle`] each taking every order of the group, so a lane's
//! group of 16 orders costs about as many round trips as one order did (plus one per order:
//! its `wallet.settled`). Until stop 27 a group ran every order's statements one
//! after another in a savepoint each, about 7 ms an order on this 2-core machine, and lanes
//! lost to a transaction per settlement (docs/benchmarks.md, stop 18).
//!
//! Only the plain case takes this path: every delivery decodes, carries lines with valid
//! amounts and is no re-drive, and every seller has a wallet. Anything else declines, and the
//! group goes one savepoint per delivery (settlement.rs), which parks, dead-letters and
//! re-announces as before. The locks are the group's `prepare`'s (every seller shared, then
//! every order), so the batch takes none of its own; reversals parked for its orders are
//! applied by `finish`, as for any group.

use std::collections::BTreeMap;

use events::{Envelope, PaymentConfirmed};
use messaging::{claim_fresh, BatchItem, HandlerError};
use outbox::OutboxTx;

use crate::{
    credits::{self, Credit, SellerCredits},
    ids::SellerNo,
    ledger,
    settlement::{announce_settled, SettleOrder, CONSUMER},
    store,
};

impl SettleOrder {
    /// `Ok(false)`: declined, nothing written (see the module docs).
    pub(crate) async fn settle_batch(
        &self,
        conn: &mut OutboxTx,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        let mut orders: Vec<(Envelope<PaymentConfirmed>, &BatchItem)> =
            Vec::with_capacity(group.len());
        for item in group {
            let delivery = &item.delivery;
            if delivery.is_redrive() {
                return Ok(false);
            }
            let Ok(event) = delivery.decode::<PaymentConfirmed>() else {
                return Ok(false);
            };
            let plain = !event.payload.lines.is_empty()
                && event
                    .payload
                    .lines
                    .iter()
                    .all(|l| ledger::valid_amount(l.amount, "line").is_ok());
            if !plain {
                return Ok(false);
            }
            orders.push((event, item));
        }
        let orders = claim_fresh(conn, CONSUMER, orders, |(e, _)| e.event_id).await?;
        if orders.is_empty() {
            return Ok(true);
        }
        let mut sellers: Vec<SellerNo> = orders
            .iter()
            .flat_map(|(e, _)| e.payload.lines.iter().map(|l| SellerNo(l.seller_no)))
            .collect();
        sellers.sort_unstable();
        sellers.dedup();
        let found =
            credits::sellers_for_sale(conn, &sellers, self.settings.fee_rate_default).await?;
        let mut by_seller: BTreeMap<SellerNo, SellerCredits> = BTreeMap::new();
        for (event, _) in &orders {
            let order = &event.payload;
            for line in &order.lines {
                let seller_no = SellerNo(line.seller_no);
                // A seller without a wallet is parked: the careful path's work.
                let Some(&(Some(wallet_no), rate)) = found.get(&seller_no) else {
                    return Ok(false);
                };
                let id = self
                    .ids
                    .next_id()
                    .map_err(|e| HandlerError::retry_because("settlement ids", e))?;
                by_seller
                    .entry(seller_no)
                    .or_insert_with(|| SellerCredits {
                        seller_no,
                        wallet_no,
                        credits: Vec::new(),
                    })
                    .credits
                    .push(Credit::new(
                        id,
                        line.payment_order_no,
                        order.order_id.clone(),
                        order.payment_event_no,
                        line.amount,
                        rate,
                    ));
            }
        }
        let batch: Vec<SellerCredits> = by_seller.into_values().collect();
        let new = credits::insert_credits(conn, &batch).await?;
        ledger::sales::post(conn, &new, self.settings.hold)
            .await
            .map_err(crate::settlement::SettleError::from)?;
        let nos: Vec<i64> = orders
            .iter()
            .map(|(e, _)| e.payload.payment_event_no)
            .collect();
        let mut complete = store::credits_when_complete_many(conn, &nos).await?;
        for (event, item) in &orders {
            let order = &event.payload;
            // Once per order (two copies of one under different ids in the group: once).
            let Some(credited) = complete.remove(&order.payment_event_no) else {
                continue;
            };
            // In the order's own trace, as the careful path appends it.
            item.in_trace(announce_settled(
                conn,
                &self.outbox,
                order.payment_event_no,
                &order.order_id,
                credited,
            ))
            .await?;
        }
        Ok(true)
    }
}
