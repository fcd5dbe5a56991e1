//! `wallet-reversal`: takes sellers' credits back for cancelled order lines
//! (`order.payment.canceled`, docs/payments.md "Cancel and refund").
//!
//! Per cancel and seller, Σ of the seller's cancelled `lines[].amount` is posted as one
//! REVERSAL ledger row, keyed by `(cancelNo, sellerNo)` (a unique index), and subtracted from
//! the balance. A redelivered or replayed event stops at `processed_events`; the same cancel
//! under a new `eventId` (a producer re-emitting it) stops at the ledger key.
//!
//! **Policy: a reversal always posts, and the balance may go negative.** The PSP has already
//! given the customer the money back; refusing the reversal would leave the ledger claiming the
//! seller still holds money that is gone. A negative balance is what the seller owes and is
//! netted by later credits.
//!
//! **A cancel that overtakes its settlement is parked, not retried.** If a seller's credits for
//! the cancelled lines are not posted yet (the confirmed event is not processed, or the credit
//! itself is parked waiting for the seller's wallet), the reversal goes to `pending_reversals`
//! and is applied in the very transaction that posts those credits ([`apply_ready`], called by
//! settlement and onboarding). The consumer's retries could not do this job: three deliveries
//! 1 s and 2 s apart end in the dead-letter queue, and a settlement may lag far longer. The
//! order's advisory lock (`store::lock_order`, which the settlement of the order also takes)
//! is held before the check, so a settlement and a cancel of one order queue and cannot miss
//! each other; the sellers' locks, shared, do the same against onboarding.
//!
//! **Ledger.** Each cancelled line gets a REVERSAL entry that gives back fee and net in
//! proportion to the refund ([`crate::ledger::reversals`]); the seller's REVERSAL row and
//! balance change are the net taken back, so `wallet.reversed` carries net amounts. Every
//! wallet of the cancel is locked before any ledger account (the settlement's lock order).
//!
//! `wallet.reversed` goes to the outbox in the transaction that reverses the last seller of the
//! cancel, built from the committed ledger. Reversals never emit `wallet.settled`.

use std::{collections::BTreeMap, sync::Arc};

use events::{Envelope, PaymentCanceled, SellerCredit, WalletReversed};
use messaging::{claim_event, Delivery, Handler, HandlerError};
use outbox::{Outbox, OutboxTx};
use snowflake::Snowflake;
use sqlx::{PgConnection, PgPool};

use crate::{
    ids::SellerNo,
    ledger,
    reversal_store::{self as rstore, Reversal},
    settlement::SettleError,
    store::{self, WalletRow},
};

pub const CONSUMER: &str = "wallet-reversal";

pub struct ReverseCancel {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
}

impl Handler for ReverseCancel {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<PaymentCanceled>()?;
        let reversals = per_seller(&event.payload)?;
        let mut delays = service_kit::retry::optimistic_lock_delays();
        loop {
            let mut tx = self.outbox.begin(&self.pool).await?;
            if !claim_event(&mut tx, CONSUMER, event.event_id).await? {
                // Reversed (or parked) before: a redelivery or a replay. A re-drive means
                // order-service never heard of the reversal (the broker may have lost
                // wallet.reversed), so it is announced again from the committed ledger.
                if let Some(first) = reversals.first().filter(|_| delivery.is_redrive()) {
                    announce_if_complete(&mut tx, &self.outbox, first)
                        .await
                        .map_err(|e| HandlerError::retry_because("announcing the reversal", e))?;
                    tx.commit().await?;
                }
                return Ok(());
            }
            match self.reverse(&mut tx, event.event_id, &reversals).await {
                Ok(()) => {
                    tx.commit().await?;
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
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// One reversal per seller, sellers ascending (the order settlement locks wallets in, so the
/// two cannot deadlock). What the ledger could never post is rejected here, on arrival: an
/// amount that is not positive, has more than two decimals or is above its line. Parked, it
/// would fail only when the settlement of its lines applies it, and take that settlement
/// (the sellers' credits, `wallet.settled`) to the dead-letter queue with it.
fn per_seller(cancel: &PaymentCanceled) -> Result<Vec<Reversal>, HandlerError> {
    let mut by_seller: BTreeMap<SellerNo, Reversal> = BTreeMap::new();
    for line in &cancel.lines {
        let what = format!("cancel {} line {}", cancel.cancel_no, line.payment_order_no);
        ledger::valid_amount(line.amount, &what)
            .map_err(|e| HandlerError::reject(e.to_string()))?;
        if line.amount > line.line_amount {
            return Err(HandlerError::reject(format!(
                "{what} refunds {}, but the line is only {}",
                line.amount, line.line_amount
            )));
        }
        let seller_no = SellerNo(line.seller_no);
        let r = by_seller.entry(seller_no).or_insert_with(|| Reversal {
            cancel_no: cancel.cancel_no,
            seller_no,
            order_id: cancel.order_id.clone(),
            payment_event_no: cancel.payment_event_no,
            amount: rust_decimal::Decimal::ZERO,
            payment_order_nos: Vec::new(),
            line_amounts: Some(Vec::new()),
        });
        r.amount += line.amount;
        let amounts = r.line_amounts.get_or_insert_with(Vec::new);
        match r
            .payment_order_nos
            .iter()
            .position(|no| *no == line.payment_order_no)
        {
            Some(i) => amounts[i] += line.amount,
            None => {
                r.payment_order_nos.push(line.payment_order_no);
                amounts.push(line.amount);
            }
        }
    }
    Ok(by_seller.into_values().collect())
}

impl ReverseCancel {
    async fn reverse(
        &self,
        conn: &mut OutboxTx,
        event_id: uuid::Uuid,
        reversals: &[Reversal],
    ) -> Result<(), SettleError> {
        let mut posted = false;
        // The sellers' locks, the order's, every wallet, then ledger accounts (the lock order
        // of store::lock_seller_shared; see the module's notes).
        for r in reversals {
            store::lock_seller_shared(conn, r.seller_no).await?;
        }
        if let Some(first) = reversals.first() {
            store::lock_order(conn, first.payment_event_no).await?;
        }
        let mut wallets = Vec::with_capacity(reversals.len());
        for r in reversals {
            wallets.push(store::lock_wallet_by_seller(conn, r.seller_no).await?);
        }
        for (r, wallet) in reversals.iter().zip(wallets) {
            let credited = match &wallet {
                Some(_) => rstore::credited_lines(conn, r.seller_no, &r.payment_order_nos).await?,
                None => 0,
            };
            match wallet {
                Some(w) if credited >= r.payment_order_nos.len() as i64 => {
                    posted |= post(conn, &self.ids, &w, r).await?;
                }
                // The settlement of these lines has not happened yet: it applies this.
                _ => rstore::park_reversal(conn, r, event_id).await?,
            }
        }
        if let Some(first) = reversals.first().filter(|_| posted) {
            announce_if_complete(conn, &self.outbox, first).await?;
        }
        Ok(())
    }
}

/// The ledger entries, the REVERSAL row and the balance change, once per (cancel, seller).
/// The balance may go negative (see the module's policy). Returns whether anything was posted
/// now. A share whose net is 0 (all of it commission) posts ledger entries only: the wallet
/// row needs a positive amount, and nothing changes for the seller.
async fn post(
    conn: &mut PgConnection,
    ids: &Snowflake,
    wallet: &WalletRow,
    r: &Reversal,
) -> Result<bool, SettleError> {
    if rstore::reversed(conn, r.cancel_no, r.seller_no).await?
        || ledger::reversals::posted(conn, r.cancel_no, r.seller_no).await?
    {
        return Ok(false);
    }
    let net = ledger::reversals::post(conn, r).await?;
    if net.is_zero() {
        return Ok(true);
    }
    let mut net_share = r.clone();
    net_share.amount = net;
    let amount =
        rstore::insert_reversal(conn, ids.next_id()?, wallet.wallet_no, &net_share).await?;
    if amount.is_zero() {
        return Ok(false);
    }
    if !store::add_to_balance(conn, wallet.wallet_no, wallet.version, -amount).await? {
        return Err(SettleError::VersionConflict);
    }
    Ok(true)
}

/// Applies the sellers' parked reversals of `payment_event_nos` whose credits are now all
/// posted, and announces each cancel that this completes. Called in the transaction that posts
/// credits: settlement, holding the orders' locks, or onboarding applying parked credits,
/// holding the seller's exclusive lock (which keeps every settlement and reversal of the
/// seller out) and the orders' (so two onboardings of one order's sellers decide one after
/// the other whether it is complete: onboarding.rs).
pub async fn apply_ready(
    conn: &mut OutboxTx,
    ids: &Snowflake,
    outbox: &Outbox,
    sellers: &[SellerNo],
    payment_event_nos: &[i64],
) -> Result<(), SettleError> {
    let ready = rstore::take_ready(conn, sellers, payment_event_nos).await?;
    let mut posted: Vec<&Reversal> = Vec::with_capacity(ready.len());
    for r in &ready {
        // Re-read under our own lock: the credits just posted moved the version on.
        let Some(wallet) = store::lock_wallet_by_seller(conn, r.seller_no).await? else {
            return Err(SettleError::Db(sqlx::Error::RowNotFound));
        };
        if post(conn, ids, &wallet, r).await? {
            posted.push(r);
        }
    }
    // Announced once every ready seller of the cancel is posted: take_ready removed them all
    // from the parked ones at once, so announcing after the first would leave the others out.
    posted.sort_by_key(|r| r.cancel_no);
    posted.dedup_by_key(|r| r.cancel_no);
    for r in posted {
        announce_if_complete(conn, outbox, r).await?;
    }
    Ok(())
}

/// Emits `wallet.reversed` with the committed reversals of the cancel once no seller of it is
/// parked any more. Sharded by payment event, like `wallet.settled`, so a settlement and the
/// reversals it unblocks are published in the order they were written.
async fn announce_if_complete(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    r: &Reversal,
) -> Result<(), SettleError> {
    if rstore::parked_of(conn, r.cancel_no).await? > 0 {
        return Ok(());
    }
    let reversals = rstore::reversals_of(conn, r.cancel_no)
        .await?
        .into_iter()
        .map(|(seller_no, amount)| SellerCredit {
            seller_no: seller_no.0,
            amount,
        })
        .collect();
    let reversed = Envelope::new(WalletReversed {
        order_id: r.order_id.clone(),
        payment_event_no: r.payment_event_no,
        cancel_no: r.cancel_no,
        reversals,
    });
    outbox
        .append(conn, r.payment_event_no, &reversed, &[])
        .await?;
    Ok(())
}
