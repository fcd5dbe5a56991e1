//! `wallet-onboarding`: creates a wallet for each registered seller and announces it, the
//! middle step of the onboarding saga.

use events::{Envelope, SellerRegistered, WalletCreated};
use messaging::{apply_once_with_outbox, Delivery, Handler, HandlerError};
use outbox::{Outbox, OutboxTx};
use snowflake::Snowflake;
use sqlx::PgPool;
use std::sync::Arc;

use crate::{
    credits::{self, Credit, SellerCredits},
    fees,
    ids::{SellerNo, WalletNo},
    ledger, reversal,
    settings::LedgerSettings,
    settlement::{announce_if_complete, SettleError},
    store::{self, ParkedCredit, WalletRow},
};

type Parked = Vec<ParkedCredit>;

/// Takes the parked credits of the seller's oldest `orders` orders and then those orders' locks,
/// before the wallet row is written or read: the lock order of settlement and reversal
/// (sellers, orders, wallets; store/locks.rs). The orders' locks: two onboardings of sellers
/// of one order each delete their own parked lines and then ask whether the order is
/// complete. Without the locks both asked before either committed, each still saw the other's
/// lines, and neither announced `wallet.settled` (nor a cancel they completed together) until
/// the re-drive, minutes later. With them the second asks after the first commits and sees
/// every line credited.
async fn take_parked(
    conn: &mut OutboxTx,
    seller_no: SellerNo,
    orders: usize,
) -> Result<Parked, HandlerError> {
    let orders = i64::try_from(orders).unwrap_or(i64::MAX);
    let parked = store::take_parked(conn, seller_no, orders).await?;
    store::lock_orders(conn, parked.iter().map(|p| p.payment_event_no)).await?;
    Ok(parked)
}

/// Credits that arrived before the wallet existed are applied with its creation (commission at
/// the seller's rate when each was parked; lines parked before that was kept take the rate of
/// now), every order they complete is announced as settled, and reversals parked behind them
/// are applied.
async fn apply_parked(
    conn: &mut OutboxTx,
    ids: &Snowflake,
    wallet: &WalletRow,
    parked: Parked,
    outbox: &Outbox,
    settings: LedgerSettings,
) -> Result<(), HandlerError> {
    if parked.is_empty() {
        return Ok(());
    }
    // Read only for lines parked before their rate was kept.
    let mut rate_now = None;
    let mut credits = Vec::with_capacity(parked.len());
    for p in parked {
        let rate = match (p.fee_rate, rate_now) {
            (Some(rate), _) | (None, Some(rate)) => rate,
            (None, None) => {
                let rate =
                    fees::rate_for(conn, wallet.seller_no, settings.fee_rate_default).await?;
                *rate_now.insert(rate)
            }
        };
        credits.push(Credit::new(
            ids.next_id()
                .map_err(|e| HandlerError::retry_because("wallet event id", e))?,
            p.payment_order_no,
            p.order_id,
            p.payment_event_no,
            p.gross,
            rate,
        ));
    }
    let settle = |e: SettleError| HandlerError::from(e);
    let mut orders: Vec<(i64, String)> = credits
        .iter()
        .map(|c| (c.payment_event_no, c.order_id.clone()))
        .collect();
    let batch = [SellerCredits {
        seller_no: wallet.seller_no,
        wallet_no: wallet.wallet_no,
        credits,
    }];
    let new = credits::insert_credits(conn, &batch).await?;
    ledger::sales::post(conn, &new, settings.hold)
        .await
        .map_err(|e| settle(e.into()))?;
    orders.sort();
    orders.dedup();
    for (payment_event_no, order_id) in &orders {
        announce_if_complete(conn, outbox, *payment_event_no, order_id)
            .await
            .map_err(settle)?;
    }
    // Cancels of these orders that came before the wallet: their credits exist now.
    let event_nos: Vec<i64> = orders.iter().map(|(no, _)| *no).collect();
    reversal::apply_ready(conn, ids, outbox, &[wallet.seller_no], &event_nos)
        .await
        .map_err(settle)?;
    Ok(())
}

pub const CONSUMER: &str = "wallet-onboarding";

pub struct CreateWallet {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
    pub settings: LedgerSettings,
    /// Parked orders applied per transaction (`ONBOARDING_PARKED_ORDERS`).
    pub parked_orders: usize,
}

impl Handler for CreateWallet {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<SellerRegistered>()?;
        let seller_no = SellerNo(event.payload.seller_no);
        let wallet_no = self
            .ids
            .next_id()
            .map(WalletNo)
            .map_err(|e| HandlerError::retry_because("wallet number", e))?;
        let outbox = &self.outbox;
        let ids = self.ids.clone();
        let (settings, chunk) = (self.settings, self.parked_orders);
        let applied =
            apply_once_with_outbox(&self.pool, outbox, CONSUMER, event.event_id, |conn| {
                Box::pin(async move {
                    // A wallet that already exists (seeded, or created by an earlier event) is
                    // announced again, so a seller stuck in PENDING still completes the saga.
                    store::lock_seller(conn, seller_no).await?;
                    let parked = take_parked(conn, seller_no, chunk).await?;
                    let more = order_count(&parked) >= chunk;
                    let (wallet, _created) =
                        store::create_wallet(conn, wallet_no, seller_no).await?;
                    apply_parked(conn, &ids, &wallet, parked, outbox, settings).await?;
                    let created = Envelope::new(WalletCreated {
                        seller_no: seller_no.0,
                        wallet_no: wallet.wallet_no.0,
                    });
                    outbox.append(conn, seller_no.0, &created, &[]).await?;
                    Ok(more)
                })
            })
            .await?;
        // A redelivery of an event already applied looks again: the process may have stopped
        // between two chunks, and the event is acked only once every chunk is in.
        if applied.done().unwrap_or(true) {
            self.apply_rest_of_parked(seller_no).await?;
        }
        Ok(())
    }
}

impl CreateWallet {
    /// What the wallet's creation left parked, a chunk of [`Self::parked_orders`] orders per
    /// transaction. One transaction for them all took an advisory lock per order: a seller
    /// with thousands of parked orders (after a long seller-service outage) ran out of
    /// Postgres's lock table (`max_locks_per_transaction` × `max_connections`), and its
    /// onboarding failed whole (docs/operations.md). Every chunk commits on its own, so a
    /// drain that outlives the delivery's timeout (120 s, libs/messaging/src/consumer.rs)
    /// keeps what it applied, and the redelivery goes on from there. While chunks remain, the seller's new
    /// orders are credited directly; a parked line's own order event was consumed when it was
    /// parked (a re-drive's same `eventId` is skipped), so only a chunk ever credits it, and a
    /// cancel of a parked order parks its reversal until the chunk that credits the order
    /// applies it (under the order's lock, as at the wallet's creation).
    async fn apply_rest_of_parked(&self, seller_no: SellerNo) -> Result<(), HandlerError> {
        loop {
            let mut tx = self.outbox.begin(&self.pool).await?;
            store::lock_seller(&mut tx, seller_no).await?;
            let parked = take_parked(&mut tx, seller_no, self.parked_orders).await?;
            if parked.is_empty() {
                return Ok(tx.rollback().await?);
            }
            let more = order_count(&parked) >= self.parked_orders;
            // Created by the first chunk's transaction, committed before this one began; its
            // absence leaves the lines parked (rolled back) and the event to its retries.
            let Some(wallet) = store::find_wallet_by_seller(&mut tx, seller_no).await? else {
                tx.rollback().await?;
                return Err(HandlerError::retry(format!(
                    "seller {} has parked credits and no wallet",
                    seller_no.0
                )));
            };
            tracing::info!(
                seller_no = seller_no.0,
                lines = parked.len(),
                "applying parked credits"
            );
            let (ids, outbox) = (&self.ids, &self.outbox);
            apply_parked(&mut tx, ids, &wallet, parked, outbox, self.settings).await?;
            tx.commit().await?;
            if !more {
                return Ok(());
            }
        }
    }
}

/// How many orders the parked lines belong to.
fn order_count(parked: &Parked) -> usize {
    let mut orders: Vec<i64> = parked.iter().map(|p| p.payment_event_no).collect();
    orders.sort_unstable();
    orders.dedup();
    orders.len()
}
