//! REVERSAL entries: a refunded part of a line takes back fee and net in proportion.
//!
//! One entry per (cancel, line), key `reverse:<cancelNo>:<paymentOrderNo>`, with the sale's
//! rate. For a refund of `x` of which the fee share is `f` ([`crate::fees::refund_split`]):
//!
//! | account | |
//! |---|---|
//! | PSP_CLEARING | credit x |
//! | PLATFORM_FEES | debit f |
//! | SELLER_PENDING(seller) | debit min(x − f, pending) |
//! | SELLER_AVAILABLE(seller) | debit the rest (may go below zero) |
//!
//! Net comes out of what is still on hold first; only the rest is taken from available money,
//! which may go negative: the PSP already gave the customer the money back, so refusing would
//! only leave the ledger wrong. The seller then owes the difference, netted by later sales.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{accounts, postings, valid_amount, EntryKind, LedgerError};
use crate::{fees, ids::SellerNo, reversal_store::Reversal};

#[derive(Debug)]
struct SaleState {
    payment_order_no: i64,
    gross: Decimal,
    fee: Decimal,
    fee_rate: Decimal,
    refunded: Decimal,
    fee_returned: Decimal,
}

/// Has this (cancel, seller) been posted to the ledger?
pub async fn posted(
    conn: &mut PgConnection,
    cancel_no: i64,
    seller_no: SellerNo,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from ledger_entries
                           where kind = 'REVERSAL' and cancel_no = $1 and seller_no = $2) as "posted!""#,
        cancel_no,
        seller_no.0,
    )
    .fetch_one(conn)
    .await
}

/// Posts the seller's share of a cancel (the caller holds the wallet lock and checked
/// [`posted`]); returns the net taken back from the seller.
pub async fn post(conn: &mut PgConnection, r: &Reversal) -> Result<Decimal, LedgerError> {
    let acc = accounts::for_seller(conn, r.seller_no).await?;
    // The seller's accounts only: the platform accounts move at commit (see sales.rs).
    let locked = accounts::lock(conn, &[acc.pending, acc.available]).await?;
    let mut pending = locked
        .iter()
        .find(|(id, _)| *id == acc.pending)
        .map(|(_, b)| *b)
        .unwrap_or_default();
    let sales = sqlx::query_as!(
        SaleState,
        "select payment_order_no, gross, fee, fee_rate, refunded, fee_returned
           from ledger_sales where payment_order_no = any($1) and seller_no = $2
          order by payment_order_no for update",
        &r.payment_order_nos,
        r.seller_no.0,
    )
    .fetch_all(&mut *conn)
    .await?;
    let sales: HashMap<i64, SaleState> =
        sales.into_iter().map(|s| (s.payment_order_no, s)).collect();
    let mut net_total = Decimal::ZERO;
    for (line, refund) in per_line(r, &sales) {
        valid_amount(refund, &format!("cancel {} line {line}", r.cancel_no))?;
        // A line settled before the ledger existed has no sale row: it was opened as
        // available money without commission, so all of the refund is net.
        let (fee_back, net_back, rate) = match sales.get(&line) {
            Some(s) if refund > s.gross - s.refunded => {
                return Err(LedgerError::Invalid(format!(
                    "cancel {} refunds {refund} of line {line}, but only {} is left of it",
                    r.cancel_no,
                    s.gross - s.refunded
                )))
            }
            Some(s) => {
                let (f, n) = fees::refund_split(s.gross, s.fee, s.refunded, s.fee_returned, refund);
                (f, n, Some(s.fee_rate))
            }
            None => (Decimal::ZERO, refund, None),
        };
        let from_pending = net_back.min(pending).max(Decimal::ZERO);
        pending -= from_pending;
        let entry = postings::NewEntry {
            key: format!("reverse:{}:{line}", r.cancel_no),
            kind: EntryKind::Reversal,
            seller_no: Some(r.seller_no),
            order_id: Some(&r.order_id),
            payment_event_no: Some(r.payment_event_no),
            payment_order_no: Some(line),
            cancel_no: Some(r.cancel_no),
            payout_no: None,
            fee_rate: rate,
            postings: vec![
                (acc.clearing, -refund),
                (acc.fees, fee_back),
                (acc.pending, from_pending),
                (acc.available, net_back - from_pending),
            ],
        };
        if postings::post(conn, &entry).await?.is_none() {
            continue;
        }
        if sales.contains_key(&line) {
            sqlx::query!(
                "update ledger_sales set refunded = refunded + $2,
                        fee_returned = fee_returned + $3, net_returned = net_returned + $4
                  where payment_order_no = $1",
                line,
                refund,
                fee_back,
                net_back,
            )
            .execute(&mut *conn)
            .await?;
        }
        net_total += net_back;
    }
    Ok(net_total)
}

/// The refund of each line. Reversals parked before the ledger kept only their total: it is
/// spread over the lines in line order, each up to what is left of it.
fn per_line(r: &Reversal, sales: &HashMap<i64, SaleState>) -> Vec<(i64, Decimal)> {
    if let Some(amounts) = r
        .line_amounts
        .as_ref()
        .filter(|a| a.len() == r.payment_order_nos.len())
    {
        return r
            .payment_order_nos
            .iter()
            .copied()
            .zip(amounts.iter().copied())
            .collect();
    }
    let mut left = r.amount;
    let mut lines: Vec<i64> = r.payment_order_nos.clone();
    lines.sort_unstable();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let room = sales.get(line).map(|s| s.gross - s.refunded);
        let take = match room {
            Some(room) if i + 1 < lines.len() => left.min(room),
            _ => left,
        };
        if take > Decimal::ZERO {
            out.push((*line, take));
            left -= take;
        }
    }
    out
}
