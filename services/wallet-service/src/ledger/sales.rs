//! SALE entries: a settled line owes the seller its net, on hold.
//!
//! | account | |
//! |---|---|
//! | PSP_CLEARING | debit gross |
//! | SELLER_PENDING(seller) | credit net = gross − fee |
//! | PLATFORM_FEES | credit fee = floor(gross × rate) |
//!
//! One entry per line, key `sale:<paymentOrderNo>`, with the rate it was charged at; a
//! `ledger_sales` row remembers the line for its refunds and its release after the hold.

use std::time::Duration;

use sqlx::PgConnection;

use super::{accounts, postings, LedgerError};
use crate::store::Credit;

/// Posts the SALE entries of `credits` (lines of one seller just credited to its wallet; the
/// caller holds that wallet's lock). Lines posted before are skipped.
pub async fn post(
    conn: &mut PgConnection,
    seller_no: i64,
    credits: &[Credit],
    hold: Duration,
) -> Result<(), LedgerError> {
    if credits.is_empty() {
        return Ok(());
    }
    let acc = accounts::for_seller(conn, seller_no).await?;
    // Only the seller's account: the platform accounts' balances move at commit
    // (migrations/wallet-service/20261221000001_platform_balances_at_commit.sql), so no
    // settlement holds them for its whole transaction.
    accounts::lock(conn, &[acc.pending]).await?;
    let hold_ms = i64::try_from(hold.as_millis()).unwrap_or(i64::MAX);
    for c in credits {
        super::valid_amount(c.gross, &format!("line {}", c.payment_order_no))?;
        let entry = postings::NewEntry {
            key: format!("sale:{}", c.payment_order_no),
            kind: "SALE",
            seller_no: Some(seller_no),
            order_id: Some(&c.order_id),
            payment_event_no: Some(c.payment_event_no),
            payment_order_no: Some(c.payment_order_no),
            cancel_no: None,
            payout_no: None,
            fee_rate: Some(c.fee_rate),
            postings: vec![
                (acc.clearing, c.gross),
                (acc.pending, -c.amount),
                (acc.fees, -c.fee),
            ],
        };
        let Some(entry_id) = postings::post(conn, &entry).await? else {
            continue;
        };
        sqlx::query(
            "insert into ledger_sales
                 (payment_order_no, entry_id, seller_no, gross, fee, fee_rate, release_due_at)
             values ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 millisecond')",
        )
        .bind(c.payment_order_no)
        .bind(entry_id)
        .bind(seller_no)
        .bind(c.gross)
        .bind(c.fee)
        .bind(c.fee_rate)
        .bind(hold_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
