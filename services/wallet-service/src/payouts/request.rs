//! Requesting a payout: one transaction writes the `payouts` row (REQUESTED) and the `PAYOUT`
//! entry under the seller's wallet lock; the PSP is asked after commit ([`Payouts::send`]).

use rust_decimal::Decimal;

use super::{
    flow::Payouts,
    store::{self, PayoutRow},
};
use crate::{
    ids::{PayoutNo, SellerNo},
    ledger::payouts::{self as ledger, PayoutPostError},
    store as wallets,
};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("seller {0} has no wallet (yet)")]
    NoWallet(SellerNo),
    #[error("a payout must be whole won, above 0 and below 10^17 (got {0})")]
    InvalidAmount(Decimal),
    #[error("the payout of {amount} exceeds the available {available}")]
    ExceedsAvailable { amount: Decimal, available: Decimal },
    #[error("the Idempotency-Key was used for a payout of {0}")]
    KeyReused(Decimal),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("no id")]
    Id(#[source] snowflake::SnowflakeError),
}

/// The payout and whether this call created it (`false`: the key's earlier payout).
pub async fn request(
    payouts: &Payouts,
    seller_no: SellerNo,
    amount: Decimal,
    key: Option<&str>,
) -> Result<(PayoutRow, bool), RequestError> {
    // `payouts.amount` is numeric(19, 2): a larger amount failed its insert, a 500 (it could
    // never be available anyway).
    let limit = Decimal::from(100_000_000_000_000_000_i64);
    if amount <= Decimal::ZERO || amount.fract() != Decimal::ZERO || amount >= limit {
        return Err(RequestError::InvalidAmount(amount));
    }
    let mut tx = payouts.pool.begin().await?;
    let Some(wallet) = wallets::lock_wallet_by_seller(&mut tx, seller_no).await? else {
        return Err(RequestError::NoWallet(seller_no));
    };
    // Under the wallet lock: two requests with one key cannot both get past this.
    if let Some(key) = key {
        if let Some(existing) = store::find_by_key(&mut tx, seller_no, key).await? {
            return if existing.amount == amount {
                Ok((existing, false))
            } else {
                Err(RequestError::KeyReused(existing.amount))
            };
        }
    }
    let id = |ids: &snowflake::Snowflake| ids.next_id().map_err(RequestError::Id);
    let payout_no = PayoutNo(id(&payouts.ids)?);
    let grace = (payouts.settings.psp_timeout.as_millis() as i64).saturating_mul(2);
    let row = store::insert(
        &mut tx,
        payout_no,
        seller_no,
        amount.normalize(),
        key,
        grace,
    )
    .await?;
    match ledger::post_payout(&mut tx, &wallet, payout_no, amount, id(&payouts.ids)?).await {
        Ok(()) => {}
        Err(PayoutPostError::ExceedsAvailable(available)) => {
            return Err(RequestError::ExceedsAvailable { amount, available })
        }
        Err(PayoutPostError::Db(e)) => return Err(e.into()),
    }
    tx.commit().await?;
    tracing::info!(%payout_no, %seller_no, %amount, "payout requested");
    Ok((row, true))
}

/// Requests and, if new, sends it to the PSP at once; returns the payout as it is then.
pub async fn request_and_send(
    payouts: &Payouts,
    seller_no: SellerNo,
    amount: Decimal,
    key: Option<&str>,
) -> Result<(PayoutRow, bool), RequestError> {
    let (row, created) = request(payouts, seller_no, amount, key).await?;
    if created {
        if let Err(e) = payouts.send(&row, "api").await {
            // The payout is committed; the recovery job will ask the PSP.
            tracing::warn!(payout_no = %row.payout_no, error = %e, "sending the payout failed");
        }
    }
    let mut conn = payouts.pool.acquire().await?;
    let now = store::find(&mut conn, row.payout_no).await?.unwrap_or(row);
    Ok((now, created))
}
