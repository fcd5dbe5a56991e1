//! `wallet-settlement`: credits sellers for paid orders (docs/architecture.md §6).
//!
//! A settlement locks no row another settlement needs: per line it appends a CREDIT row
//! (unique per payment order line, so redelivery is harmless) and a SALE entry whose
//! pending credit is a delta row (migration 20261223000001_seller_sale_deltas.sql). The
//! seller's `wallets.balance` and SELLER_PENDING move when those deltas are folded, by the
//! rollup job or by the next writer that needs the exact balance (`store::lock_wallet_by_seller`).
//! Against onboarding it holds the seller's advisory lock, shared (`store::lock_seller_shared`;
//! onboarding takes it exclusively), so "does this seller have a wallet yet?" is answered the
//! same by both sides; against cancels, the order's (`store::lock_order`, as the reversal
//! does), so "is this line credited yet?" is too.
//! (Until this stage each settlement row-locked its sellers' wallets for its whole
//! transaction, and settlements of a few busy sellers ran one after another:
//! docs/benchmarks.md.)
//! The seller is credited the net of each line (gross less `floor(gross × rate)` commission)
//! and the double-entry ledger gets one SALE entry per line ([`crate::ledger::sales`]).
//! A seller without a wallet yet has its credits parked and applied by its onboarding
//! (onboarding.rs, a chunk of orders per transaction); `wallet.settled` is emitted, in the
//! transaction that credits the order's last line, once every line of the order is credited. Reversals of cancels that arrived before this settlement (see [`crate::reversal`])
//! are applied right after the credits, in the same transaction.

use std::{collections::BTreeMap, sync::Arc};

use events::{Envelope, PaymentConfirmed, SellerCredit, WalletSettled};
use messaging::{claim_event, BatchItem, Delivery, GroupHandler, HandlerError};
use outbox::{Outbox, OutboxTx};
use rust_decimal::Decimal;
use snowflake::Snowflake;
use sqlx::{PgConnection, PgPool};

use crate::{
    credits::{self, Credit, SellerCredits},
    ids::SellerNo,
    ledger::{self, LedgerError},
    reversal,
    settings::LedgerSettings,
    store,
};

pub const CONSUMER: &str = "wallet-settlement";

#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("wallet version changed concurrently")]
    VersionConflict,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Ids(#[from] snowflake::SnowflakeError),
    /// The event cannot be posted (see [`LedgerError::Invalid`]): rejected, not retried.
    #[error("{0}")]
    Invalid(String),
}

impl From<LedgerError> for SettleError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Db(e) => Self::Db(e),
            LedgerError::Invalid(m) => Self::Invalid(m),
        }
    }
}

impl From<SettleError> for HandlerError {
    fn from(e: SettleError) -> Self {
        match e {
            SettleError::Db(e) => e.into(),
            SettleError::Invalid(m) => HandlerError::reject(m),
            other => HandlerError::retry_because("settlement", other),
        }
    }
}

pub struct SettleOrder {
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
    pub settings: LedgerSettings,
}

/// Settlements run through [`messaging::GroupCommit`]. With `SETTLEMENT_GROUP_LANES=0` each
/// commits alone and takes its sellers' shared advisory locks in seller order, then its
/// order's. With lanes (2 by default), the orders being settled at once share one transaction
/// and one commit: as one batch of shared statements where the group is plain
/// (settlement_batch.rs), otherwise a savepoint each; the group takes every seller's shared lock first, in seller order,
/// then every order's lock in order, and at its end the wallets of the parked reversals it
/// completes, in seller order (`finish`), so a group and a reversal (sellers shared, its
/// order's, its wallets in seller order) cannot deadlock.
impl GroupHandler for SettleOrder {
    /// The outbox's: settlements append `wallet.settled` and `wallet.reversed`.
    type Tx = OutboxTx;

    async fn begin(&self, pool: &PgPool) -> Result<OutboxTx, sqlx::Error> {
        self.outbox.begin(pool).await
    }

    async fn prepare(
        &self,
        conn: &mut PgConnection,
        group: &[Delivery],
    ) -> Result<(), HandlerError> {
        let (orders, sellers) = orders_and_sellers(group);
        credits::lock_sellers_shared(conn, &sellers).await?;
        // Then the orders'; each settlement takes its own again, which a transaction holding
        // it does not wait for.
        store::lock_orders(conn, orders.iter().map(|o| o.payment_event_no)).await?;
        Ok(())
    }

    /// The reversals parked for the group's orders, applied once all of them are credited:
    /// their wallets locked in seller order (apply_ready), at the end, so they are held for
    /// the commit only. Applied by each settlement instead, across a group the wallets were
    /// locked in no one order — a group posting to seller 5 then 3 and a reversal locking 3
    /// then 5 deadlocked — and held for the rest of the group (stop 18, docs/benchmarks.md).
    async fn finish(&self, conn: &mut OutboxTx, applied: &[Delivery]) -> Result<(), HandlerError> {
        let (orders, sellers) = orders_and_sellers(applied);
        let event_nos: Vec<i64> = orders.iter().map(|o| o.payment_event_no).collect();
        reversal::apply_ready(conn, &self.ids, &self.outbox, &sellers, &event_nos).await?;
        Ok(())
    }

    /// The whole group in shared statements where it is plain (settlement_batch.rs).
    const BATCHES: bool = true;

    async fn apply_batch(
        &self,
        conn: &mut OutboxTx,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        self.settle_batch(conn, group).await
    }

    async fn apply(&self, conn: &mut OutboxTx, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<PaymentConfirmed>()?;
        if !claim_event(conn, CONSUMER, event.event_id).await? {
            // Settled before: a redelivery or a replay. A re-drive means order-service never
            // heard of the settlement (the broker may have lost wallet.settled), so it is
            // announced again from the committed ledger.
            if delivery.is_redrive() {
                let order = &event.payload;
                announce_if_complete(conn, &self.outbox, order.payment_event_no, &order.order_id)
                    .await
                    .map_err(|e| HandlerError::retry_because("announcing the settlement", e))?;
            }
            return Ok(());
        }
        Ok(self.settle(conn, &event).await?)
    }
}

/// The orders of a group's deliveries (undecodable ones left to fail alone) and their sellers,
/// ascending, each once.
fn orders_and_sellers(group: &[Delivery]) -> (Vec<PaymentConfirmed>, Vec<SellerNo>) {
    let orders: Vec<PaymentConfirmed> = group
        .iter()
        .filter_map(|d| d.decode::<PaymentConfirmed>().ok())
        .map(|e| e.payload)
        .collect();
    let mut sellers: Vec<SellerNo> = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(|l| SellerNo(l.seller_no)))
        .collect();
    sellers.sort_unstable();
    sellers.dedup();
    (orders, sellers)
}

impl SettleOrder {
    /// Every seller of the order in one pass ([`crate::credits`]): the statements are the same
    /// whether the order has one seller or five.
    async fn settle(
        &self,
        conn: &mut OutboxTx,
        event: &Envelope<PaymentConfirmed>,
    ) -> Result<(), SettleError> {
        let order = &event.payload;
        if order.lines.is_empty() {
            // Nothing to credit, and store::credits_when_complete could never call it complete
            // (checkout refuses an empty cart, so this is a broken event): dead-lettered.
            return Err(SettleError::Invalid(format!(
                "order {} has no lines",
                order.order_id
            )));
        }
        let mut by_seller: BTreeMap<SellerNo, Vec<&events::PaidOrderLine>> = BTreeMap::new();
        for line in &order.lines {
            ledger::valid_amount(line.amount, &format!("line {}", line.payment_order_no))?;
            by_seller
                .entry(SellerNo(line.seller_no))
                .or_default()
                .push(line);
        }
        let sellers: Vec<SellerNo> = by_seller.keys().copied().collect();
        // The sellers' locks in ascending order, then the order's, before any row is written:
        // the lock order of store::lock_seller_shared. The sellers' locks are shared:
        // settlements and reversals of one seller do not wait for each other, only for
        // onboarding. Taken before the wallets are looked up: the lookups' snapshots must come
        // after onboarding's commit. The order's lock: a reversal of this order waits for this
        // settlement, or this settlement for it.
        credits::lock_sellers_shared(conn, &sellers).await?;
        store::lock_order(conn, order.payment_event_no).await?;
        let found =
            credits::sellers_for_sale(conn, &sellers, self.settings.fee_rate_default).await?;
        let mut batch = Vec::with_capacity(by_seller.len());
        for (seller_no, lines) in &by_seller {
            let (wallet_no, rate) = found
                .get(seller_no)
                .copied()
                .ok_or(sqlx::Error::RowNotFound)?;
            let mut credits = Vec::with_capacity(lines.len());
            for line in lines {
                credits.push(Credit::new(
                    self.ids.next_id()?,
                    line.payment_order_no,
                    order.order_id.clone(),
                    order.payment_event_no,
                    line.amount,
                    rate,
                ));
            }
            let Some(wallet_no) = wallet_no else {
                // Onboarding (exclusive lock) cannot be creating it now: parked, applied by it.
                store::park_credits(conn, *seller_no, event.event_id, &credits).await?;
                continue;
            };
            batch.push(SellerCredits {
                seller_no: *seller_no,
                wallet_no,
                credits,
            });
        }
        // Credit rows, then the SALE entries of the lines new to the wallets; the sales add to
        // the sellers' pending money as deltas, locking nothing (migration
        // 20261223000001_seller_sale_deltas.sql); the wallet balance follows when folded.
        let new = credits::insert_credits(conn, &batch).await?;
        ledger::sales::post(conn, &new, self.settings.hold).await?;
        announce_if_complete(conn, &self.outbox, order.payment_event_no, &order.order_id).await?;
        // After the announcement, so when this transaction completes the order, wallet.settled
        // is written (and published) before the wallet.reversed of a cancel that overtook it.
        // Not when a seller of the order is still parked: then the reversal of another seller
        // is announced now and wallet.settled only at the parked seller's onboarding
        // (docs/payments.md: the two events are independent). In a group, once for all of its
        // orders, at its end (`finish`).
        let credited: Vec<SellerNo> = batch.iter().map(|s| s.seller_no).collect();
        if !credited.is_empty() && !messaging::in_group() {
            reversal::apply_ready(
                conn,
                &self.ids,
                &self.outbox,
                &credited,
                &[order.payment_event_no],
            )
            .await?;
        }
        Ok(())
    }
}

/// Emits `wallet.settled` with the committed per-seller credits once no line of the order is
/// parked any more.
pub async fn announce_if_complete(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    payment_event_no: i64,
    order_id: &str,
) -> Result<(), SettleError> {
    let Some(credited) = store::credits_when_complete(conn, payment_event_no).await? else {
        return Ok(());
    };
    announce_settled(conn, outbox, payment_event_no, order_id, credited).await
}

/// Emits `wallet.settled` with the order's per-seller credits.
pub async fn announce_settled(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    payment_event_no: i64,
    order_id: &str,
    credited: Vec<(SellerNo, Decimal)>,
) -> Result<(), SettleError> {
    let credits = credited
        .into_iter()
        .map(|(seller_no, amount)| SellerCredit {
            seller_no: seller_no.0,
            amount,
        })
        .collect();
    let settled = Envelope::new(WalletSettled {
        order_id: order_id.to_string(),
        payment_event_no,
        credits,
    });
    outbox.append(conn, payment_event_no, &settled, &[]).await?;
    Ok(())
}
