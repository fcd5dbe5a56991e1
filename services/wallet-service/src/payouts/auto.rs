//! Automatic daily payouts (`PAYOUT_SCHEDULE=daily@HH:MM`, UTC): once the time has passed,
//! each seller's available balance (whole won) is paid out with the key
//! `payout-auto:<sellerNo>:<date>`, so a second pass, another instance or a restart the same
//! day finds the day's payout instead of making another.

use std::sync::Mutex;

use chrono::{NaiveDate, NaiveTime, Utc};

use super::{
    flow::Payouts,
    request::{request_and_send, RequestError},
};
use crate::ids::SellerNo;

/// The last day this process ran the payouts (the keys make a repeat harmless anyway).
static LAST_RUN: Mutex<Option<NaiveDate>> = Mutex::new(None);

pub async fn run_if_due(payouts: &Payouts, at: NaiveTime) -> Result<usize, sqlx::Error> {
    let now = Utc::now();
    let today = now.date_naive();
    if now.time() < at || LAST_RUN.lock().map(|d| *d == Some(today)).unwrap_or(false) {
        return Ok(0);
    }
    let n = run_for(payouts, today).await?;
    if let Ok(mut last) = LAST_RUN.lock() {
        *last = Some(today);
    }
    Ok(n)
}

/// The start of the automatic payouts' keys, refused in a seller's `Idempotency-Key`
/// (payouts_api.rs): a seller holding the key of a day made that day's automatic payout
/// answer the seller's own payout, and skip.
pub const AUTO_KEY_PREFIX: &str = "payout-auto:";

/// Pays out every seller's available balance for `day`; returns how many payouts it made.
pub async fn run_for(payouts: &Payouts, day: NaiveDate) -> Result<usize, sqlx::Error> {
    // `!`: a seller's account has its seller; `floor` of a not-null balance is not null.
    let sellers = sqlx::query!(
        r#"select seller_no as "seller_no!: SellerNo", floor(balance) as "amount!"
             from ledger_accounts
            where kind = 'SELLER_AVAILABLE' and balance >= 1 order by seller_no"#,
    )
    .fetch_all(&payouts.pool)
    .await?;
    let mut made = 0;
    for row in sellers {
        let (seller_no, amount) = (row.seller_no, row.amount);
        let key = format!("{AUTO_KEY_PREFIX}{seller_no}:{day}");
        match request_and_send(payouts, seller_no, amount, Some(&key)).await {
            Ok((_, true)) => made += 1,
            // Paid today already (another amount since), or the money moved meanwhile.
            Ok((_, false))
            | Err(RequestError::KeyReused(_))
            | Err(RequestError::ExceedsAvailable { .. }) => {}
            Err(RequestError::Db(e)) => return Err(e),
            Err(e) => tracing::warn!(%seller_no, error = %e, "automatic payout skipped"),
        }
    }
    if made > 0 {
        tracing::info!(made, %day, "automatic payouts requested");
    }
    Ok(made)
}
