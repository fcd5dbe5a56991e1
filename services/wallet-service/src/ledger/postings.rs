//! Writing one entry and its postings.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::EntryKind;
use crate::ids::{PayoutNo, SellerNo};

/// An entry to post. `postings` are (account id, signed amount: debit > 0, credit < 0); zero
/// amounts are left out and one account's amounts are added up.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub key: String,
    pub kind: EntryKind,
    pub seller_no: Option<SellerNo>,
    pub order_id: Option<&'a str>,
    pub payment_event_no: Option<i64>,
    pub payment_order_no: Option<i64>,
    pub cancel_no: Option<i64>,
    pub payout_no: Option<PayoutNo>,
    pub fee_rate: Option<Decimal>,
    pub postings: Vec<(i64, Decimal)>,
}

/// Posts the entry unless its idempotency key exists; returns its id if posted now. The
/// caller has locked the accounts ([`super::accounts::lock`]); the balance trigger updates
/// them, the commit-time trigger refuses the transaction if the postings do not sum to zero.
pub async fn post(
    conn: &mut PgConnection,
    entry: &NewEntry<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "insert into ledger_entries
             (idempotency_key, kind, seller_no, order_id, payment_event_no, payment_order_no,
              cancel_no, payout_no, fee_rate)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (idempotency_key) do nothing
         returning id",
        &entry.key,
        entry.kind.as_str(),
        entry.seller_no.map(|s| s.0),
        entry.order_id,
        entry.payment_event_no,
        entry.payment_order_no,
        entry.cancel_no,
        entry.payout_no.map(|p| p.0),
        entry.fee_rate,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    let mut merged: Vec<(i64, Decimal)> = Vec::with_capacity(entry.postings.len());
    for &(account, amount) in &entry.postings {
        match merged.iter_mut().find(|(a, _)| *a == account) {
            Some((_, sum)) => *sum += amount,
            None => merged.push((account, amount)),
        }
    }
    merged.retain(|(_, amount)| !amount.is_zero());
    // In account id order, like every other lock on accounts.
    merged.sort_by_key(|(account, _)| *account);
    let accounts: Vec<i64> = merged.iter().map(|(a, _)| *a).collect();
    let amounts: Vec<Decimal> = merged.iter().map(|(_, m)| *m).collect();
    sqlx::query!(
        "insert into ledger_postings (entry_id, account_id, amount)
         select $1, account_id, amount
           from unnest($2::bigint[], $3::numeric[]) with ordinality as p(account_id, amount, n)
          order by n",
        id,
        &accounts,
        &amounts,
    )
    .execute(conn)
    .await?;
    Ok(Some(id))
}
