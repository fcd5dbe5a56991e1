//! The release job: a sale's net moves from SELLER_PENDING to SELLER_AVAILABLE once its hold
//! (`SETTLEMENT_HOLD`) is over.
//!
//! | account | |
//! |---|---|
//! | SELLER_PENDING(seller) | debit x |
//! | SELLER_AVAILABLE(seller) | credit x |
//!
//! `x` = what is left of the line's net after its refunds, capped by what is pending (a
//! refund of an already released line takes its net from pending money first, so pending can
//! hold less than the unreleased lines' net; see docs/ledger.md). Key `release:<sale entry
//! id>`; nothing is posted when `x` is 0, the sale is only marked released.
//!
//! Safe with several instances and restarts: due sales are claimed with `for update skip
//! locked`, and the seller's wallet row with `skip locked` too — the job never waits for a
//! lock (a sale whose wallet is busy is left for the next pass), so it cannot deadlock with a
//! settlement or reversal that holds the wallet and wants the sale row. A sale is marked
//! released in the transaction that posts its entry, and the entry key makes a repeat a no-op.

use std::{collections::HashSet, time::Duration};

use rust_decimal::Decimal;
use service_kit::{JobPasses, Shutdown};
use sqlx::{PgConnection, PgPool};

use crate::{
    ids::SellerNo,
    ledger::{accounts, postings, EntryKind},
};

#[derive(Debug)]
struct DueSale {
    payment_order_no: i64,
    entry_id: i64,
    seller_no: SellerNo,
    order_id: Option<String>,
    payment_event_no: Option<i64>,
    left: Decimal,
}

/// One pass: releases up to `batch` due sales in one transaction; returns how many.
pub async fn release_due(pool: &PgPool, batch: i64) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // `left!`: the difference of not-null columns.
    let due = sqlx::query_as!(
        DueSale,
        r#"select s.payment_order_no, s.entry_id, s.seller_no as "seller_no: SellerNo",
                e.order_id, e.payment_event_no, s.gross - s.fee - s.net_returned as "left!"
           from ledger_sales s join ledger_entries e on e.id = s.entry_id
          where s.released_at is null and s.release_due_at <= now()
          order by s.seller_no, s.release_due_at, s.payment_order_no
          limit $1
            for update of s skip locked"#,
        batch,
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut locked = HashSet::new();
    let mut busy = HashSet::new();
    let mut released = 0;
    for sale in &due {
        if busy.contains(&sale.seller_no) {
            continue;
        }
        if !locked.contains(&sale.seller_no) {
            if try_lock_wallet(&mut tx, sale.seller_no).await? {
                locked.insert(sale.seller_no);
            } else {
                busy.insert(sale.seller_no);
                continue;
            }
        }
        release(&mut tx, sale).await?;
        released += 1;
    }
    tx.commit().await?;
    Ok(released)
}

/// The seller's wallet row lock, unless someone holds it; with it, the seller's sales not yet
/// folded are folded, so the pending balance the release is capped by is complete.
async fn try_lock_wallet(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query_scalar!(
        "select wallet_no from wallets where seller_no = $1 for no key update skip locked",
        seller_no.0,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if row.is_some() {
        crate::store::fold_seller(conn, seller_no).await?;
    }
    Ok(row.is_some())
}

async fn release(conn: &mut PgConnection, sale: &DueSale) -> Result<(), sqlx::Error> {
    let acc = accounts::for_seller(conn, sale.seller_no).await?;
    let balances = accounts::lock(conn, &[acc.pending, acc.available]).await?;
    let pending = balances
        .iter()
        .find(|(id, _)| *id == acc.pending)
        .map(|(_, b)| *b)
        .unwrap_or_default();
    let amount = sale.left.min(pending).max(Decimal::ZERO);
    let entry = postings::NewEntry {
        key: format!("release:{}", sale.entry_id),
        kind: EntryKind::Release,
        seller_no: Some(sale.seller_no),
        order_id: sale.order_id.as_deref(),
        payment_event_no: sale.payment_event_no,
        payment_order_no: Some(sale.payment_order_no),
        cancel_no: None,
        payout_no: None,
        fee_rate: None,
        postings: vec![(acc.pending, amount), (acc.available, -amount)],
    };
    if !amount.is_zero() {
        postings::post(conn, &entry).await?;
    }
    sqlx::query!(
        "update ledger_sales set released_at = now(), released = $2 where payment_order_no = $1",
        sale.payment_order_no,
        amount,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// How often the job looks: a fraction of the hold, between 250 ms and 30 s, so a short demo
/// hold is honoured within about a second and a two-day hold costs one query per 30 s.
pub fn interval(hold: Duration) -> Duration {
    (hold / 5).clamp(Duration::from_millis(250), Duration::from_secs(30))
}

/// Spawns the job on the service's shutdown: passes every [`interval`] until stopped; a full
/// batch is followed by another pass at once.
pub fn spawn(pool: PgPool, hold: Duration, passes: JobPasses, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    let every = interval(hold);
    shutdown.spawn("ledger-release", async move {
        const BATCH: i64 = 100;
        loop {
            let released = release_due(&pool, BATCH).await;
            if released.is_ok() {
                passes.passed();
            }
            let pause = match released {
                Ok(n) if n as i64 >= BATCH => Duration::ZERO,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(released = n, "released held sales");
                    }
                    every
                }
                Err(e) => {
                    tracing::warn!(error = %e, "release pass failed; will retry");
                    every
                }
            };
            tokio::select! {
                _ = stop.triggered() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    });
}
