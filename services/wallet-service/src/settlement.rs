//! `wallet-settlement`: credits sellers for paid orders (DESIGN §6).
//!
//! Per seller, the sum of its lines is added to the balance with a versioned update. The
//! wallet row is locked before its version is read, so concurrent settlements of one seller
//! queue instead of racing: under pure optimistic locking, 8 workers on one wallet made some
//! settlements exhaust their retries and go back to the stream (three times and the order is
//! dead-lettered, its seller unpaid). The version check stays as the guard against writers
//! that do not lock; a conflict is retried in a fresh transaction (the reference retried
//! inside a dead one) with a bounded, jittered backoff. One ledger row per payment order line
//! makes redelivery harmless.
//! A seller without a wallet yet has its credits parked and applied when the wallet is created,
//! and `wallet.settled` is emitted, in the same transaction, once every line of the order is
//! credited. Reversals of cancels that arrived before this settlement (see [`crate::reversal`])
//! are applied right after the credits, in the same transaction.

use std::{collections::BTreeMap, sync::Arc};

use events::{Envelope, PaymentConfirmed, SellerCredit, WalletSettled};
use messaging::{claim_event, Delivery, Handler, HandlerError};
use outbox::{OutboxNudge, OutboxWriter};
use snowflake::Snowflake;
use sqlx::{PgConnection, PgPool};

use crate::{
    reversal,
    store::{self, Credit},
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
}

pub struct SettleOrder {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: OutboxWriter,
    pub nudge: OutboxNudge,
}

impl Handler for SettleOrder {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<PaymentConfirmed>()?;
        let mut delays = service_kit::retry::optimistic_lock_delays();
        loop {
            let mut tx = self.pool.begin().await?;
            if !claim_event(&mut tx, CONSUMER, event.event_id).await? {
                // Settled before: a redelivery or a replay. A re-drive means order-service
                // never heard of the settlement (the broker may have lost wallet.settled), so
                // it is announced again from the committed ledger.
                if delivery.is_redrive() {
                    let order = &event.payload;
                    announce_if_complete(
                        &mut tx,
                        &self.outbox,
                        order.payment_event_no,
                        &order.order_id,
                    )
                    .await
                    .map_err(|e| HandlerError::retry(e.to_string()))?;
                    tx.commit().await?;
                    self.nudge.nudge();
                }
                return Ok(());
            }
            match self.settle(&mut tx, &event).await {
                Ok(()) => {
                    tx.commit().await?;
                    self.nudge.nudge();
                    return Ok(());
                }
                Err(SettleError::VersionConflict) => {
                    drop(tx);
                    let Some(delay) = delays.next() else {
                        return Err(HandlerError::retry(
                            "wallet kept changing concurrently; will be redelivered",
                        ));
                    };
                    tokio::time::sleep(delay).await;
                }
                Err(SettleError::Db(e)) => return Err(e.into()),
                Err(SettleError::Ids(e)) => return Err(HandlerError::retry(e)),
            }
        }
    }
}

impl SettleOrder {
    async fn settle(
        &self,
        conn: &mut PgConnection,
        event: &Envelope<PaymentConfirmed>,
    ) -> Result<(), SettleError> {
        let order = &event.payload;
        let mut by_seller: BTreeMap<i64, Vec<Credit>> = BTreeMap::new();
        for line in &order.lines {
            by_seller.entry(line.seller_no).or_default().push(Credit {
                id: self.ids.next_id()?,
                payment_order_no: line.payment_order_no,
                order_id: order.order_id.clone(),
                payment_event_no: order.payment_event_no,
                amount: line.amount,
            });
        }
        let mut credited = Vec::with_capacity(by_seller.len());
        for (seller_no, credits) in &by_seller {
            // Sellers in ascending order (BTreeMap), so two multi-seller orders lock their
            // wallets in the same order and cannot deadlock.
            let wallet = match store::lock_wallet_by_seller(conn, *seller_no).await? {
                Some(w) => w,
                None => {
                    store::lock_seller(conn, *seller_no).await?;
                    match store::lock_wallet_by_seller(conn, *seller_no).await? {
                        Some(w) => w,
                        None => {
                            store::park_credits(conn, *seller_no, event.event_id, credits).await?;
                            continue;
                        }
                    }
                }
            };
            credit_wallet(conn, wallet.wallet_no, wallet.version, *seller_no, credits).await?;
            credited.push(*seller_no);
        }
        announce_if_complete(conn, &self.outbox, order.payment_event_no, &order.order_id).await?;
        // After the announcement, so wallet.settled is written (and published) before the
        // wallet.reversed of a cancel that overtook it.
        for seller_no in credited {
            reversal::apply_ready(
                conn,
                &self.ids,
                &self.outbox,
                seller_no,
                &[order.payment_event_no],
            )
            .await?;
        }
        Ok(())
    }
}

/// Ledger rows and balance for one seller; a lost optimistic lock aborts the transaction.
pub async fn credit_wallet(
    conn: &mut PgConnection,
    wallet_no: i64,
    version: i64,
    seller_no: i64,
    credits: &[Credit],
) -> Result<(), SettleError> {
    let amount = store::insert_credits(conn, wallet_no, seller_no, credits).await?;
    if amount.is_zero() {
        return Ok(());
    }
    if !store::add_to_balance(conn, wallet_no, version, amount).await? {
        return Err(SettleError::VersionConflict);
    }
    Ok(())
}

/// Emits `wallet.settled` with the committed per-seller credits once no line of the order is
/// parked any more.
pub async fn announce_if_complete(
    conn: &mut PgConnection,
    outbox: &OutboxWriter,
    payment_event_no: i64,
    order_id: &str,
) -> Result<(), SettleError> {
    if store::pending_lines_of(conn, payment_event_no).await? > 0 {
        return Ok(());
    }
    let credits = store::credits_of(conn, payment_event_no)
        .await?
        .into_iter()
        .map(|(seller_no, amount)| SellerCredit { seller_no, amount })
        .collect();
    let settled = Envelope::new(WalletSettled {
        order_id: order_id.to_string(),
        payment_event_no,
        credits,
    });
    outbox.append(conn, payment_event_no, &settled, &[]).await?;
    Ok(())
}
