//! Payout entries (docs/ledger.md), one of each per payout, keyed by the payout:
//!
//! | entry (key) | postings |
//! |---|---|
//! | `PAYOUT` (`payout:<payoutNo>`) | `SELLER_AVAILABLE` Dr x · `PAYOUTS_IN_TRANSIT` Cr x |
//! | `PAYOUT_COMPLETED` (`payout-completed:<payoutNo>`) | `PAYOUTS_IN_TRANSIT` Dr x · `SELLER_PAID_OUT` Cr x |
//! | `PAYOUT_FAILED` (`payout-failed:<payoutNo>`) | `PAYOUTS_IN_TRANSIT` Dr x · `SELLER_AVAILABLE` Cr x |
//!
//! `SELLER_PAID_OUT` is the contra account of `PSP_CLEARING`: money still at the PSP is
//! `PSP_CLEARING − Σ SELLER_PAID_OUT` = Σ charged − Σ refunded − Σ paid out.
//!
//! The wallet row follows (`wallets.balance` = pending + available): a payout writes a `DEBIT`
//! and lowers the balance, a failed payout a `PAYOUT_RETURN` and raises it again. Callers hold
//! the seller's wallet row lock (taken before any account, like every ledger writer).

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{accounts, postings, EntryKind};
use crate::{
    ids::{PayoutNo, SellerNo},
    store::WalletRow,
    transaction_kind::TransactionKind,
};

/// Why a payout cannot be posted.
#[derive(Debug, thiserror::Error)]
pub enum PayoutPostError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The seller's available money is below the amount (the current available is given).
    #[error("the payout exceeds the available {0}")]
    ExceedsAvailable(Decimal),
}

/// Balance of `id` among locked accounts.
fn balance_of(locked: &[(i64, Decimal)], id: i64) -> Decimal {
    locked
        .iter()
        .find(|(a, _)| *a == id)
        .map(|(_, b)| *b)
        .unwrap_or_default()
}

fn entry(
    kind: EntryKind,
    key: String,
    seller_no: SellerNo,
    payout_no: PayoutNo,
) -> postings::NewEntry<'static> {
    postings::NewEntry {
        key,
        kind,
        seller_no: Some(seller_no),
        order_id: None,
        payment_event_no: None,
        payment_order_no: None,
        cancel_no: None,
        payout_no: Some(payout_no),
        fee_rate: None,
        postings: Vec::new(),
    }
}

/// Posts `PAYOUT` of `amount` and the wallet's `DEBIT`, unless available money is short.
pub async fn post_payout(
    conn: &mut PgConnection,
    wallet: &WalletRow,
    payout_no: PayoutNo,
    amount: Decimal,
    transaction_id: i64,
) -> Result<(), PayoutPostError> {
    let acc = accounts::for_seller(conn, wallet.seller_no).await?;
    let locked = accounts::lock(conn, &[acc.available, acc.in_transit]).await?;
    let available = balance_of(&locked, acc.available);
    if amount > available {
        return Err(PayoutPostError::ExceedsAvailable(available));
    }
    let mut e = entry(
        EntryKind::Payout,
        format!("payout:{payout_no}"),
        wallet.seller_no,
        payout_no,
    );
    e.postings = vec![(acc.available, amount), (acc.in_transit, -amount)];
    if postings::post(conn, &e).await?.is_none() {
        return Ok(());
    }
    wallet_row(
        conn,
        wallet,
        TransactionKind::Debit,
        payout_no,
        amount,
        transaction_id,
    )
    .await?;
    Ok(())
}

/// Posts `PAYOUT_COMPLETED`: the money has left the PSP. `false` if it was posted before.
pub async fn post_completed(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    payout_no: PayoutNo,
    amount: Decimal,
) -> Result<bool, sqlx::Error> {
    let acc = accounts::for_seller(conn, seller_no).await?;
    accounts::lock(conn, &[acc.in_transit, acc.paid_out]).await?;
    let mut e = entry(
        EntryKind::PayoutCompleted,
        format!("payout-completed:{payout_no}"),
        seller_no,
        payout_no,
    );
    e.postings = vec![(acc.in_transit, amount), (acc.paid_out, -amount)];
    Ok(postings::post(conn, &e).await?.is_some())
}

/// Posts `PAYOUT_FAILED` and the wallet's `PAYOUT_RETURN`: the money is available again.
pub async fn post_failed(
    conn: &mut PgConnection,
    wallet: &WalletRow,
    payout_no: PayoutNo,
    amount: Decimal,
    transaction_id: i64,
) -> Result<bool, sqlx::Error> {
    let acc = accounts::for_seller(conn, wallet.seller_no).await?;
    accounts::lock(conn, &[acc.available, acc.in_transit]).await?;
    let mut e = entry(
        EntryKind::PayoutFailed,
        format!("payout-failed:{payout_no}"),
        wallet.seller_no,
        payout_no,
    );
    e.postings = vec![(acc.in_transit, amount), (acc.available, -amount)];
    if postings::post(conn, &e).await?.is_none() {
        return Ok(false);
    }
    wallet_row(
        conn,
        wallet,
        TransactionKind::PayoutReturn,
        payout_no,
        amount,
        transaction_id,
    )
    .await?;
    Ok(true)
}

/// The wallet's side: a `DEBIT` (balance − amount) or a `PAYOUT_RETURN` (balance + amount).
async fn wallet_row(
    conn: &mut PgConnection,
    wallet: &WalletRow,
    kind: TransactionKind,
    payout_no: PayoutNo,
    amount: Decimal,
    transaction_id: i64,
) -> Result<(), sqlx::Error> {
    let (key, change) = match kind {
        TransactionKind::Debit => (format!("payout:{payout_no}"), -amount),
        _ => (format!("payout-failed:{payout_no}"), amount),
    };
    sqlx::query!(
        "insert into wallet_transactions
             (id, wallet_no, seller_no, amount, type, payout_no, idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7)",
        transaction_id,
        wallet.wallet_no.0,
        wallet.seller_no.0,
        amount,
        kind.as_str(),
        payout_no.0,
        key,
    )
    .execute(&mut *conn)
    .await?;
    // The caller holds the wallet row lock, so the balance cannot have moved under us.
    sqlx::query!(
        "update wallets set balance = balance + $2, version = version + 1 where wallet_no = $1",
        wallet.wallet_no.0,
        change,
    )
    .execute(conn)
    .await
    .map(|_| ())
}
